/**
 * Ports that take the connection and are no Redis server (issue 15): one that never writes a byte, an
 * HTTP server, a port that answers a TLS alert. Before the first write each is exit 2 within the
 * connect timeout (5 s by default), in one line that names host:port and says what was found, for
 * merge (real and --dry-run), verify and rollback, as target and as source. The retry budget is for servers that answered before; none of these ever did.
 *
 * The runs go one at a time. What is timed is the port's accepting the connection to the CLI's exit, which
 * the CLI's start-up does not blur: node and tsx starting took 10 to 14 s on a busy machine (a limit from
 * spawn to exit failed with nothing wrong).
 */
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, kvmerge } from '../harness/cli-run.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

/** A listener on 127.0.0.1 that `onConnection` handles; close() also ends its open connections. */
async function listen(
  onConnection: (socket: net.Socket) => void,
): Promise<{ url: string; port: number; acceptedAt: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    listener.acceptedAt = Date.now();
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const listener = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    /** When the last connection was accepted. */
    acceptedAt: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return listener;
}

/** An HTTP server (node:http) on a free port, as a user may point kvmerge at by mistake. */
async function listenHttp(): Promise<{
  url: string;
  port: number;
  acceptedAt: number;
  close(): Promise<void>;
}> {
  const server = http.createServer((_req, res) => res.end('hello\n'));
  server.on('connection', () => {
    listener.acceptedAt = Date.now();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const listener = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    /** When the last connection was accepted. */
    acceptedAt: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return listener;
}

/**
 * A relay to the server on `upstream` (settable): a rollback is only run against the target its journal
 * names, so the journal is written through the relay to a real server, then the relay is pointed at
 * the port under test.
 */
async function listenRelay(upstream: number) {
  const relay = {
    upstream,
    ...(await listen((client) => {
      const server = net.connect({ host: '127.0.0.1', port: relay.upstream });
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
      client.pipe(server);
      server.pipe(client);
    })),
  };
  return relay;
}

/** Runs the CLI; `exitedAt` is when it ended. */
async function timed(args: string[]): Promise<CliRun & { exitedAt: number }> {
  const run = await kvmerge(args);
  return { ...run, exitedAt: Date.now() };
}

/** Exit 2 with one `kvmerge: …` line on stderr; returns that line. */
function oneLineExit2(run: CliRun): string {
  expect(run.code, run.stderr).toBe(2);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^kvmerge: /);
  return lines[0]!;
}

/** The default connect timeout, and some room for the exit. */
const CONNECT_TIMEOUT_MS = 5_000;
const EXIT_MS = 1_500;
const scratch = mkdtempSync(join(tmpdir(), 'kvmerge-silent-'));

let real: RedisServer;
let other: RedisServer;
let silent: Awaited<ReturnType<typeof listen>>;
let web: Awaited<ReturnType<typeof listenHttp>>;
let tlsAlert: Awaited<ReturnType<typeof listen>>;
/** For the rollbacks: relays that carried a run with a journal, then lead to the silent and the HTTP port. */
const relays: Record<string, Awaited<ReturnType<typeof listenRelay>>> = {};
const journal = (bad: string): string => join(scratch, `${new URL(bad).port}.journal`);

beforeAll(async () => {
  [real, other] = await Promise.all([startRedis(), startRedis()]);
  await real.client().set('k', 'v');
  silent = await listen(() => {});
  web = await listenHttp();
  // What a TLS endpoint may send a client that speaks plain text: a fatal alert record (0x15 0x03 …).
  tlsAlert = await listen((socket) =>
    socket.once('data', () => socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))),
  );
  for (const [name, port] of [
    ['silent', silent.port],
    ['web', web.port],
  ] as const) {
    const relay = await listenRelay(other.port);
    const run = await kvmerge(['merge', '-s', real.url, '-t', relay.url, '--backup', journal(relay.url)]);
    expect(run.code, run.stderr).toBe(0);
    relay.upstream = port;
    relays[name] = relay;
  }
});

afterAll(async () => {
  await Promise.all([
    ...Object.values(relays).map((relay) => relay.close()),
    silent?.close(),
    web?.close(),
    tlsAlert?.close(),
    real?.stop(),
    other?.stop(),
  ]);
});

/**
 * The command lines to try with the port under test as the target or as a source; the other side is a
 * real server. BAD, REAL, OTHER and JOURNAL stand for what is only known once beforeAll has run; a
 * rollback goes to the relay whose journal names it, which leads to the port under test.
 */
const COMMANDS: [string, string[]][] = [
  ['merge, as target', ['merge', '-s', 'REAL', '-t', 'BAD']],
  ['merge, as source', ['merge', '-s', 'BAD', '-t', 'OTHER']],
  ['merge --dry-run, as target', ['merge', '--dry-run', '-s', 'REAL', '-t', 'BAD']],
  ['merge --dry-run, as source', ['merge', '--dry-run', '-s', 'BAD', '-t', 'OTHER']],
  ['verify, as target', ['verify', '-s', 'REAL', '-t', 'BAD']],
  ['verify, as source', ['verify', '-s', 'BAD', '-t', 'OTHER']],
  ['rollback, as target', ['rollback', '--backup', 'JOURNAL', '-t', 'BAD']],
];

/** The command line to run against the silent or the HTTP port, and the host:port it must name. */
function commandLine(args: string[], under: 'silent' | 'web'): { argv: string[]; named: string } {
  const bad = args[0] === 'rollback' ? relays[under]!.url : under === 'silent' ? silent.url : web.url;
  const by: Record<string, string> = { BAD: bad, REAL: real.url, OTHER: other.url, JOURNAL: journal(bad) };
  return { argv: args.map((a) => by[a] ?? a), named: new URL(bad).host };
}

describe('a port that accepts the connection and never writes a byte', () => {
  for (const [name, args] of COMMANDS) {
    it(`${name}: exit 2 within the connect timeout, naming host:port, "never answered"`, async () => {
      const { argv, named } = commandLine(args, 'silent');
      const run = await timed(argv);
      const line = oneLineExit2(run);
      expect(run.exitedAt - silent.acceptedAt).toBeLessThanOrEqual(CONNECT_TIMEOUT_MS + EXIT_MS);
      expect(line).toContain(named);
      expect(line).toMatch(/never answered/);
      expect(line).toMatch(/within 5s/);
    });
  }
});

// One at a time too: seven CLIs starting at once beside the rest of the suite took 11 s to start.
describe('an HTTP server on the port', () => {
  for (const [name, args] of COMMANDS) {
    it(`${name}: exit 2, "not the Redis protocol (it looks like HTTP)", no TLS hint`, async () => {
      const { argv, named } = commandLine(args, 'web');
      const run = await timed(argv);
      const line = oneLineExit2(run);
      // An answer that is no Redis ends the run at once, not at the connect timeout.
      expect(run.exitedAt - web.acceptedAt).toBeLessThan(CONNECT_TIMEOUT_MS);
      expect(line).toContain(named);
      expect(line).toMatch(/not the Redis protocol/);
      expect(line).toMatch(/looks like HTTP/);
      expect(line).not.toMatch(/TLS|rediss/);
    });
  }
});

it('a port that answers plain text with a TLS alert keeps the rediss:// hint', async () => {
  const run = await timed(['merge', '-s', real.url, '-t', tlsAlert.url]);
  const line = oneLineExit2(run);
  expect(run.exitedAt - tlsAlert.acceptedAt).toBeLessThan(CONNECT_TIMEOUT_MS);
  expect(line).toContain(`127.0.0.1:${tlsAlert.port}`);
  expect(line).toContain('use a rediss:// URL');
  expect(line).not.toMatch(/HTTP/);
});
