/**
 * The one classifier of error replies (src/servers/errors/classify.ts) reads what a real server answers:
 * every kind the run acts on is provoked on a redis-server and read back through the pipe, as the
 * writer, the verifier and the connectors see it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/config/url.js';
import { classifyReply, refusesCommand, slotRedirect } from '../../src/servers/errors/classify.js';
import { RespPipe } from '../../src/servers/pipe.js';
import type { Command, Reply } from '../../src/servers/resp.js';
import { connectSocket, DEFAULT_NETWORK, handshake } from '../../src/servers/socket.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

let server: RedisServer;
let pipe: RespPipe;

beforeAll(async () => {
  server = await startRedis({ aclUsers: ['limited on >pw ~allowed:* +@all -flushall'] });
  pipe = await RespPipe.open(parseRedisUrl(server.url), 'test', DEFAULT_NETWORK);
});

afterAll(async () => {
  pipe?.close();
  await server?.stop();
});

/** The error reply of the last command. */
async function refusal(...commands: Command[]): Promise<Error> {
  const replies = await pipe.send(commands);
  const last = replies.at(-1);
  if (!(last instanceof Error)) throw new Error(`expected an error reply, got ${String(last)}`);
  return last;
}

/** The error reply to the last command on a fresh connection, as a user AUTHs and SELECTs on one. */
async function onFreshConnection(commands: Command[]): Promise<Error> {
  const socket = await connectSocket(server.host, server.port, false, undefined, 5_000);
  try {
    await handshake(socket, commands, 5_000);
  } catch (err) {
    return err as Error;
  } finally {
    socket.destroy();
  }
  throw new Error('expected the handshake to be refused');
}

describe('error replies of a real server, classified', () => {
  it('BUSYKEY, WRONGTYPE, a bad payload, an unknown command, EXECABORT', async () => {
    const [, dump] = (await pipe.send([
      ['SET', 'k', 'v'],
      ['DUMP', 'k'],
    ])) as [Reply, Buffer];
    expect(classifyReply(await refusal(['RESTORE', 'k', 0, dump]))).toBe('busykey');
    expect(classifyReply(await refusal(['LPUSH', 'k', 'x']))).toBe('wrongtype');
    expect(classifyReply(await refusal(['RESTORE', 'other', 0, Buffer.from('not a payload')]))).toBe(
      'bad-payload',
    );
    expect(classifyReply(await refusal(['NOSUCHCOMMAND', 'k']))).toBe('unknown-command');
    const aborted = await refusal(['MULTI'], ['NOSUCHCOMMAND', 'k'], ['EXEC']);
    expect(classifyReply(aborted)).toBe('execabort');
    // A reply that says nothing the run acts on.
    expect(classifyReply(await refusal(['INCR', 'k']))).toBe('other');
  });

  it('NOPERM for a command and for a key; a refused command is told from a refused key', async () => {
    const command = await refusal(['AUTH', 'limited', 'pw'], ['FLUSHALL']);
    expect(classifyReply(command)).toBe('noperm');
    expect(refusesCommand(command)).toBe(true);
    const key = await refusal(['GET', 'elsewhere']);
    expect(classifyReply(key)).toBe('noperm');
    expect(refusesCommand(key)).toBe(false);
  });

  it('a wrong password and a database the server does not have', async () => {
    expect(classifyReply(await onFreshConnection([['AUTH', 'limited', 'wrong']]))).toBe('auth');
    expect(classifyReply(await onFreshConnection([['SELECT', 99]]))).toBe('bad-db');
  });

  it('READONLY from a replica, and what is no redirection', async () => {
    const replica = await startRedis({ args: ['--replicaof', server.host, String(server.port)] });
    try {
      const replicaPipe = await RespPipe.open(parseRedisUrl(replica.url), 'replica', DEFAULT_NETWORK);
      try {
        const [reply] = await replicaPipe.send([['SET', 'k', 'v']]);
        expect(classifyReply(reply as Error)).toBe('readonly');
        expect(slotRedirect(reply as Error)).toBeUndefined();
      } finally {
        replicaPipe.close();
      }
    } finally {
      await replica.stop();
    }
  });
});

describe('bytes that are no RESP', () => {
  it('fail what waits at once, naming the server, without reconnecting in a loop', async () => {
    const { createServer } = await import('node:net');
    let connections = 0;
    // Answers the handshake's PING, then something that is not RESP (a web server behind the port).
    const fake = createServer((socket) => {
      connections++;
      let answered = 0;
      socket.on('data', () => {
        socket.write(answered++ === 0 ? '+PONG\r\n' : 'HTTP/1.1 400 Bad Request\r\n\r\n');
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const port = (fake.address() as { port: number }).port;
    try {
      const odd = await RespPipe.open(parseRedisUrl(`redis://127.0.0.1:${port}`), 'target', DEFAULT_NETWORK);
      await expect(odd.send([['GET', 'k']])).rejects.toThrow(
        /^cannot read the replies of target redis:\/\/127\.0\.0\.1:\d+\S* \(Protocol error, got "H" as reply type byte\); check that the URL names a Redis-protocol server$/,
      );
      await expect(odd.send([['GET', 'k']])).rejects.toThrow(/cannot read the replies/);
      await new Promise((r) => setTimeout(r, 300));
      expect(connections).toBe(1);
      expect(odd.reconnects).toBe(0);
      odd.close();
    } finally {
      fake.close();
    }
  });
});
