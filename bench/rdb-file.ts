/**
 * Read speed and peak memory of the RDB file reader (src/rdb/file/), on files made here by a local
 * redis-server (rdbcompression off, so the file is as big as the data):
 *
 *   npx tsx bench/rdb-file.ts [--small-mb 300] [--big-mb 200]
 *
 * - `small`: DEBUG POPULATE keys of 120-byte strings, about --small-mb MB of file;
 * - `big`: one hash of about --big-mb MB (hashtable encoding), which the reader does not buffer (over
 *   the 64 MiB default) but walks, then re-reads as DUMP payload pieces, as the fold would send it.
 *
 * Each file is read in a child process of its own, once for the records (values kept, each turned into
 * a DUMP payload) and once for the framing-only pre-read; the child reports its wall time and its peak
 * RSS (ru_maxrss). The files are removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis } from '../src/demo/local-server.js';
import { dumpPayload, payloadChunks, RdbFile, verifyRdbFile } from '../src/rdb/file/index.js';
import { saveRdb } from './rdb-save.js';

async function child(file: string, mode: 'records' | 'verify'): Promise<void> {
  const started = performance.now();
  let keys = 0;
  let payloadBytes = 0;
  if (mode === 'verify') keys = (await verifyRdbFile(file)).keys;
  else {
    const rdb = await RdbFile.open(file);
    for await (const batch of rdb.batches())
      for (const record of batch) {
        keys++;
        if (record.value) payloadBytes += dumpPayload(record, rdb.info.version).length;
        else
          for await (const piece of payloadChunks(rdb, record, rdb.info.version))
            payloadBytes += piece.length;
      }
    await rdb.close();
  }
  const ms = performance.now() - started;
  console.log(JSON.stringify({ keys, payloadBytes, ms, maxRssKb: process.resourceUsage().maxRSS }));
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

async function main(): Promise<void> {
  const server = await startLocalRedis({ args: ['--rdbcompression', 'no'] });
  const r = new Redis(server.port);
  const files: [string, string][] = [];
  try {
    const smallMb = flag('small-mb', 300);
    await r.call('DEBUG', 'POPULATE', Math.round((smallMb * 1e6) / 137), 'key', 120);
    files.push(['small', await saveRdb(r, server, path.join(server.dir, 'small.rdb'))]);
    await r.flushall();
    const bigMb = flag('big-mb', 200);
    const fields = Math.round((bigMb * 1e6) / 130);
    for (let from = 0; from < fields; from += 100_000)
      await r.eval(
        "for i = ARGV[1], ARGV[2] do redis.call('HSET', KEYS[1], 'field:' .. i, string.rep('v', 100) .. i) end",
        1,
        'big',
        from,
        Math.min(fields, from + 100_000) - 1,
      );
    await r.save();
    files.push(['big', path.join(server.dir, 'dump.rdb')]);
    for (const [name, file] of files) {
      const { size } = await stat(file);
      for (const mode of ['records', 'verify'] as const) {
        const out = spawnSync(
          process.execPath,
          [...process.execArgv, process.argv[1]!, 'child', file, mode],
          {
            encoding: 'utf8',
          },
        );
        if (out.status !== 0) throw new Error(out.stderr);
        const m = JSON.parse(out.stdout.trim().split('\n').at(-1)!);
        const mbs = size / 1e6 / (m.ms / 1000);
        console.log(
          `${name} ${mode}: ${(size / 1e6).toFixed(0)} MB, ${m.keys} keys, ${(m.ms / 1000).toFixed(2)} s, ` +
            `${mbs.toFixed(0)} MB/s, peak RSS ${(m.maxRssKb / 1024).toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    r.disconnect();
    await server.stop();
  }
}

if (process.argv[2] === 'child') await child(process.argv[3]!, process.argv[4] as 'records' | 'verify');
else await main();
