/**
 * Real Pika processes for tests, started like redis-server: a free loopback port, a fresh directory,
 * ready once PING answers, killed (SIGKILL: Pika's SHUTDOWN is slow) and removed on stop() or when
 * the test process exits. `pika-run PORT DIR` (../shared/servers) writes the config into DIR and
 * execs Pika, so the child's pid is Pika's. Pika also listens on PORT+2000 (replication) and
 * PORT+10001 (rsync): the port is chosen so that all three are free.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { LocalRedis } from '../../src/demo/local-server.js';
import { deathSignalPrefix } from '../../src/demo/local-server.js';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 30_000;
const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHook = false;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port P in 20000..20999 with P+1000, P+2000 (replication) and P+10001 (rsync) free a moment ago.
 * Drawing P from one block of 1000 keeps every instance's other ports out of the block, so two
 * Pikas started at once can only collide on P itself, which the start retries.
 */
async function pikaPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 1000);
    const all = await Promise.all([port, port + 1000, port + 2000, port + 10_001].map(portFree));
    if (all.every(Boolean)) return port;
  }
  throw new Error('no free port block for Pika');
}

/** Whether the Pika on `port` answers and is process `pid` (not another test's Pika that took the port). */
async function answers(port: number, pid: number | undefined): Promise<boolean> {
  const probe = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    const info = await probe.info('server');
    if (/process_id:(\d+)/.exec(info)?.[1] !== String(pid)) return false;
    // Pika 3.5.5 aborts under read load with its key cache on (capabilities.ts, which warns users):
    // the tests are about kvmerge, so their 3.5 servers run without it.
    if (/pika_version:3\./.test(info)) await probe.config('SET', 'cache-model', '0');
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Starts `pika-run` (the path of one build's script) and resolves once Pika answers PING. */
export async function startLocalPika(pikaRun: string): Promise<LocalRedis> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(pikaRun);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startOnce(pikaRun: string): Promise<LocalRedis> {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const entry of live) {
        entry.child.kill('SIGKILL');
        rmSync(entry.dir, { recursive: true, force: true });
      }
    });
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'kvmerge-pika-'));
  const port = await pikaPort();
  const logFile = path.join(dir, 'pika-run.log');
  const log = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    const argv = [...deathSignalPrefix(), pikaRun, String(port), path.join(dir, 'data')];
    child = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ['ignore', log, log], detached: true });
  } finally {
    closeSync(log);
  }
  child.unref();
  const entry = { child, dir };
  live.add(entry);
  const stop = async (): Promise<void> => {
    if (!live.has(entry)) return;
    live.delete(entry);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n');
      await stop();
      throw new Error(`${pikaRun} exited during startup on port ${port}:\n${tail}`);
    }
    if (await answers(port, child.pid)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${pikaRun} on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}/0`,
    password: undefined,
    dir,
    pid: child.pid ?? -1,
    urlFor: (db: number) => `redis://${HOST}:${port}/${db}`,
    stop,
  };
}
