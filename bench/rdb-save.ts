import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { LocalRedis } from '../src/demo/local-server.js';

/**
 * SAVEs a local server's data and moves its dump.rdb to `file`: the RDB benches make their files this
 * way at run time (never committed), and the move keeps the file when the server's directory goes.
 */
export async function saveRdb(client: Redis, server: LocalRedis, file: string): Promise<string> {
  await client.save();
  await rm(file, { force: true });
  await rename(path.join(server.dir, 'dump.rdb'), file);
  return file;
}
