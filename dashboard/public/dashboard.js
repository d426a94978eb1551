/*
 * The live parts of every page, as one Alpine component ("live"), and the create-schedule form
 * ("scheduleForm"), registered without any inline script. Alpine is its CSP build (@alpinejs/csp):
 * attribute expressions are parsed, never compiled with eval, so the templates keep to property
 * paths, negations and indexes (docs/dashboard.md).
 *
 * The element with x-data="live" names its JSON source in data-src; the first model comes from the
 * page's <script type="application/json" id="page-data"> block, so Alpine starts from exactly what
 * the server rendered. Every DASHBOARD_REFRESH_MS it fetches the same model again and Alpine updates
 * the text in place: no reload, no layout jump. Polling pauses while the tab is hidden.
 */
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';

  function readInitialModel() {
    var el = document.getElementById('page-data');
    if (!el) return {};
    try {
      return JSON.parse(el.textContent || '{}');
    } catch (err) {
      console.error('[dashboard] page data is not JSON', err);
      return {};
    }
  }

  function rect(cls, x, y, w, h, label) {
    var r = document.createElementNS(SVG_NS, 'rect');
    r.setAttribute('class', cls);
    r.setAttribute('x', String(x));
    r.setAttribute('y', String(y));
    r.setAttribute('width', String(w));
    r.setAttribute('height', String(h));
    var t = document.createElementNS(SVG_NS, 'title');
    t.textContent = label;
    r.appendChild(t);
    return r;
  }

  /** Redraws the throughput bars from the chart model (geometry computed by the dashboard server). */
  function drawChart(root, chart) {
    var svg = root.querySelector('svg[data-chart]');
    if (!svg || !chart || !chart.bars) return;
    var group = svg.querySelector('[data-chart-bars]');
    var desc = svg.querySelector('[data-chart-summary]');
    if (desc) desc.textContent = chart.summary;
    var fresh = document.createElementNS(SVG_NS, 'g');
    fresh.setAttribute('data-chart-bars', '');
    chart.bars.forEach(function (b) {
      if (b.completedHeight > 0)
        fresh.appendChild(rect('fill-emerald-500', b.x, b.completedY, b.width, b.completedHeight, b.label));
      if (b.failedHeight > 0)
        fresh.appendChild(rect('fill-rose-500', b.x, b.failedY, b.width, b.failedHeight, b.label));
    });
    if (group) svg.replaceChild(fresh, group);
    else svg.appendChild(fresh);
  }

  function clock(date) {
    return date.toISOString().slice(11, 19) + ' UTC';
  }

  document.addEventListener('alpine:init', function () {
    var refreshMs = Number(document.body.getAttribute('data-refresh-ms')) || 3000;

    window.Alpine.data('live', function () {
      return {
        m: readInitialModel(),
        liveLabel: 'live: refreshes every ' + refreshMs / 1000 + ' s',
        failures: 0,
        timer: null,
        busy: false,

        init: function () {
          var self = this;
          // Rows rendered by the server for the first paint (and for browsers without JavaScript)
          // give way to the x-for templates, which render the same model.
          Array.prototype.forEach.call(this.$el.querySelectorAll('[data-ssr]'), function (el) {
            el.remove();
          });
          this.schedule();
          document.addEventListener('visibilitychange', function () {
            if (!document.hidden) self.refresh();
          });
        },

        schedule: function () {
          var self = this;
          clearTimeout(this.timer);
          // Back off while the dashboard itself is unreachable, up to 30 s.
          var delay = Math.min(30000, refreshMs * Math.pow(2, Math.min(this.failures, 4)));
          this.timer = setTimeout(function () {
            self.refresh();
          }, delay);
        },

        refresh: function () {
          var self = this;
          var src = this.$el.getAttribute('data-src');
          if (!src || this.busy) return;
          if (document.hidden) return this.schedule();
          this.busy = true;
          fetch(src, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
            .then(function (res) {
              if (!res.ok) throw new Error('HTTP ' + res.status);
              return res.json();
            })
            .then(function (model) {
              self.m = model;
              self.failures = 0;
              self.liveLabel = 'live: updated ' + clock(new Date());
              drawChart(self.$el, model.chart);
            })
            .catch(function (err) {
              self.failures++;
              self.liveLabel = 'refresh failed (' + err.message + '); retrying';
            })
            .finally(function () {
              self.busy = false;
              self.schedule();
            });
        },

        destroy: function () {
          clearTimeout(this.timer);
        },
      };
    });

    /*
     * A form that asks first ("confirmSubmit"): its data-confirm (kept current by the live model,
     * so it names the number of jobs shown now) in the browser's confirm dialog.
     */
    window.Alpine.data('confirmSubmit', function () {
      return {
        ask: function (event) {
          if (!window.confirm(this.$el.getAttribute('data-confirm'))) event.preventDefault();
        },
      };
    });

    /*
     * A job's log ("jobLog"): the lines of one attempt (data-attempt) from data-src, oldest first,
     * then every second the lines logged since (the answer's cursor), so a running job's log grows
     * in place. The server keeps at most 1,000 lines per attempt; what it dropped is said below.
     */
    window.Alpine.data('jobLog', function () {
      return {
        lines: [],
        note: 'No lines yet.',
        cursor: '',
        timer: null,
        stopped: false,

        init: function () {
          this.fetchMore();
        },

        fetchMore: function () {
          var self = this;
          var src = this.$el.getAttribute('data-src');
          var url = src + '?attempt=' + encodeURIComponent(this.$el.getAttribute('data-attempt') || '1');
          if (this.cursor) url += '&cursor=' + encodeURIComponent(this.cursor);
          fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
            .then(function (res) {
              if (!res.ok) throw new Error('HTTP ' + res.status);
              return res.json();
            })
            .then(function (page) {
              var box = self.$refs.lines;
              var atEnd = !box || box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
              page.items.forEach(function (l) {
                self.lines.push({ key: self.lines.length, at: l.at.slice(11, 23), level: l.level, line: l.line });
              });
              if (page.nextCursor) self.cursor = page.nextCursor;
              var count = self.lines.length + (self.lines.length === 1 ? ' line' : ' lines');
              self.note =
                (self.lines.length ? count : 'No lines yet.') +
                (page.dropped ? ' · ' + page.dropped + ' more dropped (the log keeps 1,000 lines or 256 KiB)' : '');
              if (atEnd && box)
                self.$nextTick(function () {
                  box.scrollTop = box.scrollHeight;
                });
              self.next(page.more ? 0 : 1000);
            })
            .catch(function (err) {
              self.note = 'reading the log failed (' + err.message + '); retrying';
              self.next(5000);
            });
        },

        next: function (ms) {
          var self = this;
          if (this.stopped) return;
          clearTimeout(this.timer);
          this.timer = setTimeout(function () {
            if (document.hidden) return self.next(1000);
            self.fetchMore();
          }, ms);
        },

        destroy: function () {
          this.stopped = true;
          clearTimeout(this.timer);
        },
      };
    });

    /*
     * The create-schedule form ("scheduleForm"): while cron or time zone are typed, it asks the
     * dashboard (data-preview-src, which asks the server) for the next 5 firings and the cron in
     * words, so they are seen before saving. An answer to an older input is dropped.
     */
    window.Alpine.data('scheduleForm', function () {
      return {
        words: '',
        runs: [],
        error: '',
        timer: null,
        asked: 0,

        init: function () {
          this.preview();
        },

        changed: function () {
          var self = this;
          clearTimeout(this.timer);
          this.timer = setTimeout(function () {
            self.preview();
          }, 250);
        },

        preview: function () {
          var self = this;
          var form = this.$root;
          var cron = form.querySelector('[name="cron"]').value;
          var zone = form.querySelector('[name="timezone"]').value || 'UTC';
          var asked = ++this.asked;
          var url =
            form.getAttribute('data-preview-src') +
            '?cron=' +
            encodeURIComponent(cron) +
            '&timezone=' +
            encodeURIComponent(zone);
          fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
            .then(function (res) {
              if (!res.ok) throw new Error('HTTP ' + res.status);
              return res.json();
            })
            .then(function (answer) {
              if (asked !== self.asked) return;
              self.error = answer.error;
              self.words = answer.error ? '' : '(' + answer.words + ')';
              self.runs = answer.nextRuns;
            })
            .catch(function (err) {
              if (asked !== self.asked) return;
              self.error = 'preview failed (' + err.message + ')';
              self.runs = [];
            });
        },

        destroy: function () {
          clearTimeout(this.timer);
        },
      };
    });
  });
})();
