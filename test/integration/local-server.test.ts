/**
 * The harness's servers (src/demo/local-server.ts) are the tests' own: a server started on a port that
 * another process holds exits ("address already in use") while that other server answers on the port,
 * and must not be taken for the new one. Before the check, a test could write into, or flush, a server
 * that belonged to a test running beside it.
 */
import { expect, it } from 'vitest';
import { freePort, startLocalRedis } from '../../src/demo/local-server.js';

it('a port held by another server is not taken for the new server: a fixed port fails, a picker is asked again', async () => {
  const holder = await startLocalRedis();
  try {
    await expect(startLocalRedis({ port: holder.port, startTimeoutMs: 3_000 })).rejects.toThrow(
      /in use|did not answer/,
    );
    const offered: number[] = [];
    const started = await startLocalRedis({
      port: async () => {
        const port = offered.length === 0 ? holder.port : await freePort();
        offered.push(port);
        return port;
      },
    });
    try {
      expect(offered.length).toBeGreaterThanOrEqual(2);
      expect(offered[0]).toBe(holder.port);
      expect(started.port).not.toBe(holder.port);
      expect(started.pid).not.toBe(holder.pid);
    } finally {
      await started.stop();
    }
  } finally {
    await holder.stop();
  }
}, 60_000);
