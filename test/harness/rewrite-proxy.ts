/**
 * A proxy in front of a real server that rewrites the commands clients send (replies pass through
 * unchanged, in order), to make a server misbehave on purpose: a SCAN cursor that cycles, a command
 * that is refused. Commands are RESP arrays of bulk strings (what ioredis sends); `rewrite` gets each
 * command's arguments and returns the arguments to send instead.
 *
 * Example:
 *   // SCAN 200 is answered as SCAN 100 is: the cursor comes back as 200 for ever.
 *   const proxy = await startRewriteProxy(pika.port, (args) =>
 *     upper(args[0]) === 'SCAN' && args[1]?.toString() === '200' ? [args[0]!, Buffer.from('100'), ...args.slice(2)] : args);
 */
import net from 'node:net';

export type Rewrite = (args: Buffer[]) => Buffer[];

export interface RewriteProxy {
  port: number;
  /** `url` with its port replaced by the proxy's. */
  url(url: string): string;
  /** Commands seen so far, by upper-case name. */
  readonly seen: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

export const upper = (arg: Buffer | undefined): string =>
  (arg ?? Buffer.alloc(0)).toString('latin1').toUpperCase();

export async function startRewriteProxy(targetPort: number, rewrite: Rewrite): Promise<RewriteProxy> {
  const sockets = new Set<net.Socket>();
  const seen = new Map<string, number>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const parsed = parseCommand(pending);
        if (!parsed) break;
        pending = pending.subarray(parsed.used);
        const name = upper(parsed.args[0]);
        seen.set(name, (seen.get(name) ?? 0) + 1);
        upstream.write(encode(rewrite(parsed.args)));
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (url) => url.replace(/:(\d+)(\/\d+)?$/, `:${port}$2`),
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One `*N\r\n$len\r\n…` command from the front of `buf`, or undefined while it is incomplete. */
function parseCommand(buf: Buffer): { args: Buffer[]; used: number } | undefined {
  const line = (at: number): { text: string; next: number } | undefined => {
    const end = buf.indexOf('\r\n', at);
    return end < 0 ? undefined : { text: buf.toString('latin1', at, end), next: end + 2 };
  };
  const head = line(0);
  if (!head) return undefined;
  if (!head.text.startsWith('*')) throw new Error(`rewrite proxy: not a RESP array: ${head.text}`);
  const args: Buffer[] = [];
  let at = head.next;
  for (let i = 0; i < Number(head.text.slice(1)); i++) {
    const len = line(at);
    if (!len) return undefined;
    const n = Number(len.text.slice(1));
    if (buf.length < len.next + n + 2) return undefined;
    args.push(buf.subarray(len.next, len.next + n));
    at = len.next + n + 2;
  }
  return { args, used: at };
}

function encode(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) parts.push(Buffer.from(`$${arg.length}\r\n`), arg, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
