/*
 * A CSP-safe expression evaluator for Alpine.js.
 *
 * Alpine's standard build turns every attribute expression into code with `new Function`, which a
 * Content-Security-Policy without 'unsafe-eval' forbids. Its CSP build (@alpinejs/csp) is not
 * installed here, so this file swaps in an evaluator of our own through Alpine.setEvaluator. It
 * understands only what the dashboard's templates use:
 *   - a property path:            m.bots.idle, r.href, m.jobs.0.count
 *   - its negation:                !m.serverError
 *   - a method name (called):      refresh   (with the event as argument for x-on)
 *   - an empty object for x-data:  "" or {}
 * Anything else is a programming error and is reported in the console. No string is ever executed.
 */
(function () {
  'use strict';

  var PATH = /^(!?)\s*([A-Za-z_$][\w$]*(?:\.[\w$]+)*)(\(\))?$/;

  function lookup(scope, parts) {
    var parent = undefined;
    var value = scope;
    for (var i = 0; i < parts.length; i++) {
      if (value === null || value === undefined) return { parent: undefined, value: undefined };
      parent = value;
      value = value[parts[i]];
    }
    return { parent: parent, value: value };
  }

  function compile(expression) {
    var text = String(expression).trim();
    if (text === '' || text === '{}') {
      return function () {
        return {};
      };
    }
    var match = PATH.exec(text);
    if (!match) {
      console.error('[dashboard] unsupported Alpine expression (CSP evaluator): ' + text);
      return function () {
        return undefined;
      };
    }
    var negate = match[1] === '!';
    var parts = match[2].split('.');
    return function (scope, params) {
      var found = lookup(scope, parts);
      var value = found.value;
      // Alpine calls functions it gets back (x-data providers, init, event handlers) with the
      // component as `this`; a method of a nested object gets that object.
      if (typeof value === 'function') {
        value = value.apply(parts.length > 1 ? found.parent : scope, params || []);
      }
      return negate ? !value : value;
    };
  }

  var cache = Object.create(null);

  function cspEvaluator(el, expression) {
    var Alpine = window.Alpine;
    var magics = {};
    Alpine.injectMagics(magics, el);
    var dataStack = [magics].concat(Alpine.closestDataStack(el));
    return function (receiver, options) {
      receiver = receiver || function () {};
      options = options || {};
      var scope = Alpine.mergeProxies([options.scope || {}].concat(dataStack));
      var params = options.params || [];
      var result;
      try {
        if (typeof expression === 'function') {
          result = expression.apply(scope, params);
        } else {
          var fn = cache[expression] || (cache[expression] = compile(expression));
          result = fn(scope, params);
        }
      } catch (err) {
        console.error('[dashboard] error in Alpine expression "' + expression + '"', err, el);
        return;
      }
      if (result && typeof result.then === 'function') {
        result.then(receiver, function (err) {
          console.error('[dashboard] error in Alpine expression "' + expression + '"', err, el);
        });
      } else {
        receiver(result);
      }
    };
  }

  document.addEventListener('alpine:init', function () {
    window.Alpine.setEvaluator(cspEvaluator);
  });
})();
