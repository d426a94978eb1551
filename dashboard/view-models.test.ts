import { datalakeModel, formatAge, formatDuration, formatPercent, jobRow, throughputChart } from './view-models';
import { jsonForScript } from './render';
import { safeReturnTo } from './http-helpers';
import { jobsHref } from './page-data';
import type { Job } from '../core/types';

const minute = (i: number) => new Date(Date.UTC(2026, 10, 29, 17, i)).toISOString();

describe('throughputChart', () => {
  it('scales the busiest minute to the full height and stacks failed above completed', () => {
    const points = Array.from({ length: 60 }, (_, i) => ({ minute: minute(i), completed: 0, failed: 0 }));
    points[10] = { minute: minute(10), completed: 3, failed: 1 };
    points[59] = { minute: minute(59), completed: 2, failed: 0 };
    const c = throughputChart(points, 600, 160);
    expect(c.bars).toHaveLength(60);
    expect(c.max).toBe(4);
    expect(c.peak).toBe(4);
    const b = c.bars[10];
    expect(b.completedHeight).toBe(120);
    expect(b.failedHeight).toBe(40);
    expect(b.completedY).toBe(40);
    expect(b.failedY).toBe(0);
    expect(b.x).toBeCloseTo(10 * 10 + 1, 5);
    expect(b.label).toBe('17:10 UTC: 3 completed, 1 failed');
    expect(c.bars[59].completedHeight).toBe(80);
    expect(c.bars[0].completedHeight + c.bars[0].failedHeight).toBe(0);
    expect(c.totalCompleted).toBe(5);
    expect(c.totalFailed).toBe(1);
    expect(c.firstMinute).toBe('17:00 UTC');
    expect(c.lastMinute).toBe('17:59 UTC');
    // Every bar stays inside the drawing.
    for (const bar of c.bars) {
      expect(bar.x).toBeGreaterThanOrEqual(0);
      expect(bar.x + bar.width).toBeLessThanOrEqual(600.001);
      expect(bar.failedY).toBeGreaterThanOrEqual(0);
    }
  });

  it('draws nothing, without dividing by zero, for an idle or missing hour', () => {
    const idle = throughputChart([{ minute: minute(0), completed: 0, failed: 0 }]);
    expect(idle.bars[0].completedHeight).toBe(0);
    expect(idle.summary).toContain('0 completed, 0 failed');
    expect(idle.peak).toBe(0);
    expect(idle.max).toBe(1);
    expect(throughputChart(undefined).bars).toEqual([]);
  });
});

describe('formatting', () => {
  it('formats durations, ages and rates for people', () => {
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 5 s');
    expect(formatDuration(7_380_000)).toBe('2 h 3 min');
    const now = Date.parse('2026-11-29T17:00:00Z');
    expect(formatAge('2026-11-29T16:59:57Z', now)).toBe('3 s ago');
    expect(formatAge('2026-11-29T16:55:00Z', now)).toBe('5 min ago');
    expect(formatAge(null, now)).toBe('–');
    expect(formatPercent(0.85)).toBe('85.0 %');
    expect(formatPercent(null)).toBe('–');
  });

  it('offers retry for failed and cancelled jobs and cancel for unfinished ones, and shows progress', () => {
    const base = {
      id: 'j1',
      type: 'simulated',
      payload: {},
      botId: null,
      attempts: 1,
      maxAttempts: 1,
      priority: 0,
      runAt: null,
      key: null,
      timeoutMs: 0,
      createdAt: minute(0),
      claimedAt: null,
      startedAt: minute(1),
      finishedAt: minute(3),
      leaseExpiresAt: null,
      result: null,
      error: null,
    } as Omit<Job, 'status'>;
    expect(jobRow({ ...base, status: 'failed' })).toMatchObject({
      canRetry: true,
      canCancel: false,
      duration: '2 min 0 s',
      href: '/jobs/j1',
    });
    expect(jobRow({ ...base, status: 'cancelled' })).toMatchObject({ canRetry: true, canCancel: false });
    expect(jobRow({ ...base, status: 'pending' })).toMatchObject({ canRetry: false, canCancel: true });
    expect(jobRow({ ...base, status: 'running' })).toMatchObject({
      canRetry: false,
      canCancel: true,
      progress: { has: false, percent: 0, text: '' },
    });
    const at = minute(2);
    expect(
      jobRow({ ...base, status: 'running', progress: { fraction: 0.426, message: 'step 4', at } }).progress,
    ).toEqual({ has: true, percent: 43, text: '43% · step 4' });
    expect(jobRow({ ...base, status: 'completed', progress: { fraction: 1, message: null, at } })).toMatchObject({
      canCancel: false,
      progress: { text: '100%' },
    });
  });
});

describe('datalakeModel', () => {
  it('lists days newest first with export links and totals', () => {
    const m = datalakeModel({
      days: [
        {
          date: '2026-11-28',
          results: 4,
          completed: 3,
          failed: 1,
          successRate: 0.75,
          meanDurationMs: 1500,
          bytes: 2048,
        },
        { date: '2026-11-29', results: 1, completed: 1, failed: 0, successRate: 1, meanDurationMs: 500, bytes: 10 },
      ],
      total: { results: 5, completed: 4, failed: 1, successRate: 0.8, meanDurationMs: 1300, bytes: 2058, days: 2 },
    });
    expect(m.days.map((d) => d.date)).toEqual(['2026-11-29', '2026-11-28']);
    expect(m.days[1]).toMatchObject({
      successRate: '75.0 %',
      meanDuration: '1.5 s',
      bytes: '2.0 KiB',
      exportHref: '/datalake/export/2026-11-28',
    });
    expect(m.total).toMatchObject({ date: 'total', results: 5, successRate: '80.0 %' });
  });
});

describe('helpers', () => {
  it('keeps script data blocks closed whatever a payload contains', () => {
    const s = jsonForScript({ p: '</script><script>alert(1)</script>', q: '<!--' });
    expect(s).not.toMatch(/</);
    expect(JSON.parse(s)).toEqual({ p: '</script><script>alert(1)</script>', q: '<!--' });
  });

  it('only redirects to local paths', () => {
    expect(safeReturnTo('/jobs?status=failed')).toBe('/jobs?status=failed');
    expect(safeReturnTo('//evil.example/x')).toBe('/');
    expect(safeReturnTo('https://evil.example')).toBe('/');
    expect(safeReturnTo('/\\evil.example')).toBe('/');
    expect(safeReturnTo('/a\r\nSet-Cookie: x=1')).toBe('/');
    expect(safeReturnTo(undefined, '/bots')).toBe('/bots');
  });

  it('builds short /jobs links that keep the filter', () => {
    expect(jobsHref({ limit: 50 })).toBe('/jobs');
    expect(jobsHref({ status: 'failed', limit: 100, cursor: 'abc' })).toBe('/jobs?status=failed&limit=100&cursor=abc');
    expect(jobsHref({ type: 'x', limit: 50 }, '/api/jobs')).toBe('/api/jobs?type=x');
  });
});
