import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { emptyCounts } from '../../src/report/counters.js';
import { RunEvents } from '../../src/report/events.js';
import { eventLine, logEvents } from '../../src/report/live-log.js';
import { LogThrottle } from '../../src/report/log-throttle.js';
import { MetricsServer } from '../../src/report/metrics.js';
import { etaSeconds, formatEta, OverallProgress, overallText } from '../../src/report/overall.js';
import { JsonProgress } from '../../src/report/progress-json.js';

describe('ETA and the overall line', () => {
  it('etaSeconds is what is left at the rate so far, null before any rate', () => {
    expect(etaSeconds(250, 1000, 50)).toBe(15);
    expect(etaSeconds(0, 1000, 0)).toBeNull();
    expect(etaSeconds(10, 0, 5)).toBeNull();
    // An estimate exceeded: nothing left, not a negative time.
    expect(etaSeconds(1200, 1000, 50)).toBe(0);
  });

  it('formatEta says seconds, minutes and hours, and ? when unknown', () => {
    expect(formatEta(null)).toBe('ETA ?');
    expect(formatEta(5)).toBe('ETA 5.0s');
    expect(formatEta(65)).toBe('ETA 1m 05s');
    expect(formatEta(3725)).toBe('ETA 1h 02m 05s');
  });

  it("the run's total is the sources' estimates (marked ~) until each is done, then exact", () => {
    const o = new OverallProgress();
    o.planned([
      { name: 'a', estimatedKeys: 1000 },
      { name: 'b', estimatedKeys: 500 },
    ]);
    o.started(0, 'a', 1000, 0);
    o.update(0, 400, 1000);
    const mid = o.snapshot(2000);
    expect(mid).toMatchObject({ done: 400, total: 1500, estimated: true, keysPerSec: 200, etaSec: 6 });
    expect(overallText(mid)).toBe('400/~1500 keys (26%), 200 keys/s, ETA 6.0s');
    // Source a had fewer keys than DBSIZE said (expired ones): its total becomes what it walked.
    o.update(0, 900, 1000);
    o.finished(0, 3000);
    o.started(1, 'b', 500, 3000);
    o.update(1, 500, 500);
    o.finished(1, 4000);
    const end = o.snapshot(4000);
    expect(end).toMatchObject({ done: 1400, total: 1400, estimated: false, etaSec: 0 });
    expect(overallText(end)).toBe('1400/1400 keys (100%), 350 keys/s, ETA 0ms');
  });

  it('RDB file sources add their bytes read, and where every source is a file the ETA goes by bytes', () => {
    const o = new OverallProgress();
    o.started(0, 'a.rdb', 1000, 0);
    // A tenth of the keys, but half of the bytes (a big value came first): 2 s for half, 2 s to go.
    o.update(0, 100, 1000, { read: 50_000_000, total: 100_000_000 });
    const mid = o.snapshot(2000);
    expect(mid).toMatchObject({ done: 100, bytes: { read: 50_000_000, total: 100_000_000 }, etaSec: 2 });
    expect(overallText(mid)).toBe('100/~1000 keys (10%), 50.0/100.0 MB read, 50 keys/s, ETA 2.0s');
    // A live source beside it: the ETA goes back to keys; a finished file counts whole.
    o.finished(0, 3000);
    o.started(1, 'live', 1000, 3000);
    o.update(1, 500, 1000);
    const mixed = o.snapshot(4000);
    expect(mixed.bytes).toEqual({ read: 100_000_000, total: 100_000_000 });
    expect(mixed.etaSec).toBe(etaSeconds(600, 1100, 150));
  });

  it('a source of unknown size makes the total unknown: no total, no percentage, ETA ?', () => {
    const o = new OverallProgress();
    o.started(0, 'a', 0, 0);
    o.update(0, 300, 0);
    const s = o.snapshot(1000);
    expect(s.total).toBeNull();
    expect(overallText(s)).toBe('300 keys, 300 keys/s, ETA ?');
  });
});

describe('LogThrottle', () => {
  it('lets one line per kind per interval through and says how many were held back', () => {
    const t = new LogThrottle(1000);
    expect(t.take('reconnect', 'r1', 0)).toBe('r1');
    expect(t.take('reconnect', 'r2', 100)).toBeNull();
    expect(t.take('reconnect', 'r3', 999)).toBeNull();
    // Another kind is not held back by the first.
    expect(t.take('fallback', 'f1', 500)).toBe('f1');
    expect(t.take('reconnect', 'r4', 1000)).toBe('r4 (2 more reconnect event(s) not shown)');
    expect(t.take('reconnect', 'r5', 1500)).toBeNull();
    expect(t.flush()).toEqual([{ kind: 'reconnect', held: 1 }]);
    expect(t.flush()).toEqual([]);
  });

  it('logEvents: a burst of reconnects is one line, the rest counted on the next line and at the end', () => {
    const events = new RunEvents();
    const lines: string[] = [];
    let now = 0;
    const close = logEvents(
      events,
      (l) => lines.push(l),
      1000,
      () => now,
    );
    for (let i = 0; i < 5; i++)
      events.emit({ kind: 'reconnect', server: 'target redis://h:1/0', reason: 'ECONNRESET' });
    expect(lines).toEqual(['reconnected to target redis://h:1/0 (the connection was lost: ECONNRESET)']);
    now = 1500;
    events.emit({ kind: 'reconnect', server: 'target redis://h:1/0', reason: 'EPIPE' });
    expect(lines[1]).toBe(
      'reconnected to target redis://h:1/0 (the connection was lost: EPIPE) (4 more reconnect event(s) not shown)',
    );
    events.emit({ kind: 'fallback', source: 's1', reason: 'payload rejected by target' });
    events.emit({ kind: 'fallback', source: 's1', reason: 'payload rejected by target' });
    close();
    expect(lines.slice(2)).toEqual([
      'fallback: a key of source s1 written natively instead of with DUMP/RESTORE (payload rejected by target)',
      '1 more fallback event(s) not shown (see the counts)',
    ]);
    expect(events.counts).toMatchObject({ reconnect: 6, fallback: 2, failover: 0, topology: 0 });
  });

  it('eventLine names a failover and a topology change', () => {
    expect(eventLine({ kind: 'failover', server: 'target x', from: 'h:1', to: 'h:2' })).toBe(
      'failover: target x now reaches the master at h:2 (was h:1)',
    );
    expect(eventLine({ kind: 'topology', server: 'source a x', detail: '5 slot(s) changed owner' })).toBe(
      'topology: source a x: the slot table changed (5 slot(s) changed owner)',
    );
  });
});

describe('JsonProgress', () => {
  function capture(intervalMs = 1000) {
    const lines: string[] = [];
    let now = Date.UTC(2026, 0, 1);
    const json = new JsonProgress({ write: (l) => lines.push(l), intervalMs, now: () => now });
    return {
      json,
      lines,
      parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
      tick: (ms: number) => {
        now += ms;
      },
    };
  }

  it('one object a line with the common fields; progress at most once per interval; nothing after done', () => {
    const c = capture();
    c.json.begin({ command: 'merge', sources: ['a'] });
    c.json.planned([{ name: 'a', estimatedKeys: 100 }]);
    c.json.sourceStarted(0, 'a', 100);
    for (let i = 1; i <= 10; i++) {
      c.tick(100);
      c.json.update(0, i * 10, 100, { ...emptyCounts(), scanned: i * 10, created: i * 10 });
    }
    c.json.sourceFinished(0);
    c.json.event({ kind: 'reconnect', server: 'target t', reason: 'ECONNRESET' });
    c.json.done({
      totals: { ...emptyCounts(), scanned: 100, created: 100 },
      outcome: 'done',
      durationMs: 1000,
    });
    c.json.log('late line');
    c.json.update(0, 100, 100, emptyCounts());
    for (const l of c.lines) expect(l.endsWith('\n') && !l.slice(0, -1).includes('\n')).toBe(true);
    const events = c.parsed();
    expect(events.map((e) => e.event)).toEqual([
      'start',
      'progress',
      'progress',
      'source-done',
      'reconnect',
      'done',
    ]);
    for (const e of events) {
      expect(Object.keys(e).slice(0, 8)).toEqual([
        'ts',
        'event',
        'source',
        'done',
        'total',
        'keysPerSec',
        'etaSec',
        'lag',
      ]);
    }
    expect(events[0]).toMatchObject({ ts: '2026-01-01T00:00:00.000Z', total: null, etaSec: null });
    // The planned total at once, then one progress a second (10 updates over 1 s: the one at 1 s).
    expect(events[1]).toMatchObject({ total: 100, done: 0 });
    expect(events[2]).toMatchObject({ source: 'a', done: 100, sourceDone: 100, total: 100, keysPerSec: 100 });
    // A connection's event names its server, not the source under way.
    expect(events[4]).toMatchObject({ source: null, server: 'target t', reason: 'ECONNRESET' });
    expect(events[5]).toMatchObject({
      source: null,
      done: 100,
      total: 100,
      etaSec: 0,
      outcome: 'done',
      totals: { created: 100 },
    });
  });

  it("a follow's status is progress with its lag, or reconcile when a pass starts", () => {
    const c = capture();
    c.json.follow({ pending: 3, lagMs: 1500, refolded: 10, keysPerSecond: 2, caughtUp: false });
    c.json.follow({
      pending: 0,
      lagMs: 0,
      refolded: 10,
      keysPerSecond: 0,
      caughtUp: true,
      pass: 'pass over a',
    });
    expect(c.parsed()).toMatchObject([
      { event: 'progress', lag: 1.5, pending: 3 },
      { event: 'reconcile', lag: 0, pass: 'pass over a' },
    ]);
  });

  it('redacts every string before it is serialised', () => {
    const lines: string[] = [];
    const json = new JsonProgress({
      write: (l) => lines.push(l),
      redact: <T>(v: T): T =>
        JSON.parse(
          JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? x.replaceAll('s"3cret', '***') : x)),
        ) as T,
    });
    json.log('redis://:s"3cret@h:1');
    expect(lines[0]).not.toContain('3cret');
  });
});

describe('RunEvents and MetricsServer', () => {
  it('bytes sent are split by role from the connection label', () => {
    const events = new RunEvents();
    events.sent('target redis://h:1/0', 100);
    events.sent('target redis://h:1/0 node', 5);
    events.sent('source a redis://h:2/0', 7);
    expect(events.bytesSent).toEqual({ target: 105, source: 7 });
  });

  it('serves the private registry on 127.0.0.1 and refuses a port in use with a ConfigError', async () => {
    const events = new RunEvents();
    const metrics = await MetricsServer.start(0, events, { follow: true });
    const port = metrics.port;
    try {
      metrics.progress.planned?.([{ name: 'a', estimatedKeys: 10 }]);
      metrics.progress.sourceStarted(0, 'a', 10);
      metrics.progress.update(0, 4, 10, emptyCounts());
      events.emit({ kind: 'reconnect', server: 'target t', reason: 'x' });
      events.sent('target t', 42);
      metrics.follow({ pending: 7, lagMs: 2500, refolded: 0, keysPerSecond: 0, caughtUp: false });
      const res = await fetch(`http://127.0.0.1:${metrics.port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('kvmerge_source_keys_scanned_total{source="a"} 4');
      expect(text).toContain('kvmerge_source_keys_estimated{source="a"} 10');
      expect(text).toContain('kvmerge_reconnects_total 1');
      expect(text).toContain('kvmerge_bytes_sent_total{to="target"} 42');
      expect(text).toContain('kvmerge_follow_lag_seconds 2.5');
      expect(text).toContain('kvmerge_follow_pending_keys 7');
      // Nothing of node's default metrics: the registry is the run's own.
      expect(text).not.toContain('process_cpu');
      // Scraped twice, a counter is not added twice.
      expect(await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text()).toContain(
        'kvmerge_reconnects_total 1',
      );
      expect((await fetch(`http://127.0.0.1:${metrics.port}/other`)).status).toBe(404);
      await expect(MetricsServer.start(metrics.port, events, { follow: false })).rejects.toThrow(ConfigError);
    } finally {
      await metrics.close();
    }
    // Closed: the port answers no more.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
