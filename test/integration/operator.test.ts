import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/demo/local-server.js';
import type { JsonReport } from '../../src/report/types.js';
import { kvmerge } from '../harness/cli-run.js';
import { startProxy } from '../harness/proxy.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

/** Every line of a --progress-json stderr, parsed: a line that is not JSON fails the test. */
function events(stderr: string): Record<string, unknown>[] {
  return stderr
    .trimEnd()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line on stderr: ${line}`);
      }
    });
}

/** The metrics text as name{labels} → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function seed(server: RedisServer, prefix: string, keys: number): Promise<void> {
  const client = server.client();
  const p = client.pipeline();
  for (let i = 0; i < keys; i++) {
    if (i % 3 === 0) p.hset(`${prefix}:h:${i}`, 'f', String(i));
    else p.set(`${prefix}:s:${i}`, String(i));
  }
  await p.exec();
}

describe('operator interfaces (SPEC §11): --progress-json, --metrics-port, live event lines, --json errors', () => {
  let a: RedisServer;
  let b: RedisServer;
  let target: RedisServer;
  let dir: string;

  beforeAll(async () => {
    [a, b, target] = await Promise.all([startRedis(), startRedis(), startRedis()]);
    await Promise.all([seed(a, 'a', 3000), seed(b, 'b', 1500)]);
    dir = await mkdtemp(join(tmpdir(), 'kvmerge-operator-'));
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), target?.stop()]);
  });

  it('--progress-json: every stderr line is JSON, events in order, done totals = the report; /metrics scraped during the run', async () => {
    await target.client().flushall();
    const port = await freePort();
    const reportFile = join(dir, 'report.json');
    // --rate 1500: 4,500 keys take about 3 s, long enough to scrape the metrics mid-run.
    const run = kvmerge([
      ...['-s', a.url, '-s', b.url, '-t', target.url, '--no-backup', '--hash', 'merge'],
      ...[
        '--rate',
        '1500',
        '--progress-json',
        '--quiet',
        '--metrics-port',
        String(port),
        '--report',
        reportFile,
      ],
    ]);
    let midRun: Map<string, number> | undefined;
    let exited = false;
    void run.then(() => {
      exited = true;
    });
    while (!exited && midRun === undefined) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => undefined);
      const m = text === undefined ? undefined : parseMetrics(text);
      const created = [...(m ?? new Map<string, number>())]
        .filter(([k]) => k.startsWith('kvmerge_keys_total{outcome="created"'))
        .reduce((n, [, v]) => n + v, 0);
      if (m && created > 0 && created < 4500) midRun = m;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const result = await run;
    expect(result.code, result.stderr).toBe(0);
    // Scraped while keys were still being written: counters under way, estimates of both sources known.
    expect(midRun, 'no scrape caught the run under way').toBeDefined();
    expect(midRun!.get('kvmerge_source_keys_estimated{source="127.0.0.1:' + a.port + '/0"}')).toBe(3000);
    expect(midRun!.get('kvmerge_source_keys_estimated{source="127.0.0.1:' + b.port + '/0"}')).toBe(1500);
    expect(midRun!.get('kvmerge_bytes_sent_total{to="target"}')).toBeGreaterThan(0);
    expect(midRun!.get('kvmerge_reconnects_total')).toBe(0);
    expect(midRun!.get('kvmerge_fallbacks_total')).toBe(0);
    // The port is closed once the run is over.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();

    const list = events(result.stderr);
    const names = list.map((e) => e.event);
    for (const e of list) {
      expect(typeof e.ts).toBe('string');
      expect(new Date(e.ts as string).toISOString()).toBe(e.ts);
      for (const field of ['source', 'done', 'total', 'keysPerSec', 'etaSec', 'lag'])
        expect(e).toHaveProperty(field);
    }
    expect(names[0]).toBe('start');
    expect(names.at(-1)).toBe('done');
    expect(names.filter((n) => n === 'source-done')).toHaveLength(2);
    expect(names.filter((n) => n === 'progress').length).toBeGreaterThanOrEqual(2);
    // Once known, the total is both sources' DBSIZE; done only grows.
    const progress = list.filter((e) => e.event === 'progress');
    expect(progress.some((e) => e.total === 4500)).toBe(true);
    const dones = list.map((e) => e.done as number);
    expect(dones).toEqual([...dones].sort((x, y) => x - y));
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as JsonReport;
    const done = list.at(-1)!;
    expect(done.totals).toEqual(report.totals);
    expect(done.done).toBe(report.totals.scanned);
    expect(done.outcome).toBe('done');
    expect(report.totals.scanned).toBe(4500);
  });

  it('--progress-json with --follow gives the lag and pending keys, then done with the follow summary; verify gives checked', async () => {
    await target.client().flushall();
    // No --backup: the follow reads the journal the run chose in the state directory.
    const follow = await kvmerge([
      ...['-s', b.url, '-t', target.url, '--follow', '--until-caught-up'],
      ...['--set-notify-config', '--progress-json'],
    ]);
    expect(follow.code, follow.stderr).toBe(0);
    const list = events(follow.stderr);
    const lagged = list.filter((e) => e.event === 'progress' && typeof e.lag === 'number');
    expect(lagged.length, follow.stderr).toBeGreaterThanOrEqual(1);
    expect(lagged[0]).toMatchObject({ pending: expect.any(Number), caughtUp: expect.any(Boolean) });
    const done = list.at(-1)!;
    expect(done).toMatchObject({ event: 'done', outcome: 'done', follow: { caughtUp: true } });
    expect(list.indexOf(lagged[0]!)).toBeGreaterThan(list.findIndex((e) => e.event === 'source-done'));

    const check = await kvmerge(['verify', '-s', b.url, '-t', target.url, '--progress-json', '--quiet']);
    expect(check.code, check.stderr).toBe(0);
    const verified = events(check.stderr);
    expect(verified[0]).toMatchObject({ event: 'start', command: 'verify' });
    expect(verified.at(-1)).toMatchObject({ event: 'done', checked: 1500, differences: 0, done: 1500 });
  });

  it('a connection cut mid-run gives a live log line and a reconnect event, counted in the done event', async () => {
    await target.client().flushall();
    const proxy = await startProxy(target.port);
    try {
      // 3 kB of the target's replies (the checks, the first batches), then every connection to it is cut once.
      proxy.cutAfter(3_000, 'down');
      const result = await kvmerge([
        ...['-s', a.url, '-t', proxy.url(target.url), '--no-backup', '--rate', '3000', '--progress-json'],
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(proxy.cuts).toBe(1);
      const list = events(result.stderr);
      const reconnect = list.find((e) => e.event === 'reconnect');
      expect(reconnect, result.stderr).toBeDefined();
      expect(String(reconnect!.server)).toMatch(/^target redis:\/\/127\.0\.0\.1:\d+/);
      // The live line, as the plain log says it (here routed as a log event).
      const line = list.find(
        (e) => e.event === 'log' && String(e.message).startsWith('reconnected to target'),
      );
      expect(line, result.stderr).toBeDefined();
      // The reconnect comes before the end, as it happened.
      expect(list.indexOf(reconnect!)).toBeLessThan(list.findIndex((e) => e.event === 'done'));
      expect(list.at(-1)!.events).toMatchObject({ reconnect: 1, failover: 0, fallback: 0 });
      expect(await target.client().dbsize()).toBe(3000);

      // verify's connections say theirs too.
      proxy.cutAfter(3_000, 'down');
      const check = await kvmerge(['verify', '-s', a.url, '-t', proxy.url(target.url), '--progress-json']);
      expect(check.code, check.stderr).toBe(0);
      const checked = events(check.stderr);
      expect(
        checked.filter((e) => e.event === 'reconnect'),
        check.stderr,
      ).toHaveLength(1);
      expect(checked.at(-1)).toMatchObject({ event: 'done', checked: 3000, differences: 0 });
    } finally {
      await proxy.close();
    }
  });

  it('without --progress-json a reconnect is one plain log line on stderr as it happens', async () => {
    await target.client().flushall();
    const proxy = await startProxy(target.port);
    try {
      proxy.cutAfter(3_000, 'down');
      const result = await kvmerge([
        ...['-s', a.url, '-t', proxy.url(target.url), '--no-backup', '--rate', '3000', '--no-progress'],
      ]);
      expect(result.code, result.stderr).toBe(0);
      const lines = result.stderr.split('\n').filter((l) => l.startsWith('reconnected to target'));
      expect(lines, result.stderr).toHaveLength(1);
      // Status lines carry the time and the run's overall done/~total, keys/s and ETA.
      expect(result.stderr).toMatch(
        /\[kvmerge\] \d{4}-\d\d-\d\dT[\d:.]+Z .*started \(about 3000 keys\); run 0\/~3000 keys \(0%\), 0 keys\/s, ETA \?/,
      );
    } finally {
      await proxy.close();
    }
  });

  it('--json prints {"error", "exitCode"} on stdout for a bad URL and for an unreachable server', async () => {
    const bad = await kvmerge(['-s', 'redis://127.0.0.1:notaport', '-t', target.url, '--json']);
    expect(bad.code).toBe(2);
    const badJson = JSON.parse(bad.stdout) as { error: string; exitCode: number };
    expect(badJson.exitCode).toBe(2);
    expect(badJson.error).toContain('bad port "notaport"');

    const closed = await freePort();
    const down = await kvmerge([
      ...['-s', `redis://:s3cret@127.0.0.1:${closed}`, '-t', target.url, '--json', '--no-backup'],
    ]);
    expect(down.code).toBe(2);
    const downJson = JSON.parse(down.stdout) as { error: string; exitCode: number };
    expect(downJson).toEqual({ error: expect.stringContaining(String(closed)), exitCode: 2 });
    expect(down.stdout + down.stderr).not.toContain('s3cret');

    const usage = await kvmerge(['--no-such-flag', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ exitCode: 2 });
  });

  it('--metrics-port on a port in use: a one-line error, exit 2, nothing written', async () => {
    await target.client().flushall();
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const result = await kvmerge([
        '-s',
        a.url,
        '-t',
        target.url,
        '--no-backup',
        '--metrics-port',
        String(port),
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        `kvmerge: --metrics-port: 127.0.0.1:${port} is in use; pick another port`,
      ]);
      expect(await target.client().dbsize()).toBe(0);
    } finally {
      busy.close();
    }
  });
});
