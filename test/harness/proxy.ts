/**
 * A TCP proxy in front of a real server, to cause network faults for real: cut every connection once
 * N bytes have gone through, or stall (accept and forward nothing).
 *
 * Example:
 *   const proxy = await startProxy(server.port);
 *   proxy.cutAfter(200_000, 'down');        // the next 200 kB of replies, then every connection is cut
 *   runMerge(... proxy.url(server.url) ...);
 *   await proxy.close();
 */
import net from 'node:net';

export type Direction = 'up' | 'down';

export interface TcpProxy {
  port: number;
  /** `url` with its port replaced by the proxy's. */
  url(url: string): string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Cuts done so far. */
  readonly cuts: number;
  /**
   * Arms a cut: once `bytes` more bytes have flowed in `direction` (up: client → server, down: server →
   * client), every open connection is destroyed at once. `times` cuts, each after `bytes` more bytes.
   */
  cutAfter(bytes: number, direction: Direction, times?: number): void;
  /**
   * Arms a cut of replies: once `bytes` more bytes have gone up, every open connection is destroyed at
   * the first byte that comes down after them, which never arrives: a request delivered whole, its
   * reply lost.
   */
  cutReplyAfter(bytes: number): void;
  /** Calls `then` once `bytes` more bytes have flowed in `direction` (in the proxy's own data handler). */
  onFlowed(bytes: number, direction: Direction, then: () => void): void;
  /** Stalled: new and open connections forward nothing (and new ones are accepted but never served). */
  stall(on: boolean): void;
  /** Destroys every connection now. */
  cutAll(): void;
  close(): Promise<void>;
}

/** Runs `fn` with a proxy in front of `targetPort`, closed afterwards whatever `fn` does. */
export async function withProxy<T>(targetPort: number, fn: (proxy: TcpProxy) => Promise<T>): Promise<T> {
  const proxy = await startProxy(targetPort);
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let accepted = 0;
  let cuts = 0;
  let armed: { bytes: number; left: number; direction: Direction; times: number } | undefined;
  let stalled = false;
  let replyCut: { left: number } | undefined;
  const watches: { left: number; direction: Direction; then: () => void }[] = [];

  const cutAll = (): void => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  const count = (n: number, direction: Direction): number => {
    // Returns how many of these n bytes may pass before the cut (n when no cut is due).
    for (const watch of watches.splice(0)) {
      if (watch.direction === direction) watch.left -= n;
      if (watch.left > 0) watches.push(watch);
      else watch.then();
    }
    if (replyCut && direction === 'up') replyCut.left -= n;
    else if (replyCut && replyCut.left <= 0) {
      replyCut = undefined;
      return 0;
    }
    if (!armed || armed.direction !== direction) return n;
    if (n < armed.left) {
      armed.left -= n;
      return n;
    }
    const pass = armed.left;
    armed.times--;
    armed = armed.times > 0 ? { ...armed, left: armed.bytes } : undefined;
    return pass;
  };

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: targetHost, port: targetPort });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    const forward = (from: net.Socket, to: net.Socket, direction: Direction): void => {
      from.on('data', (chunk: Buffer) => {
        if (stalled) return;
        const pass = count(chunk.length, direction);
        if (pass > 0) to.write(chunk.subarray(0, pass));
        if (pass < chunk.length) {
          cuts++;
          cutAll();
        }
      });
    };
    forward(client, upstream, 'up');
    forward(upstream, client, 'down');
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (url) => url.replace(/:(\d+)(\/\d+)?$/, `:${port}$2`),
    get accepted() {
      return accepted;
    },
    get cuts() {
      return cuts;
    },
    cutAfter(bytes, direction, times = 1) {
      armed = { bytes, left: bytes, direction, times };
    },
    cutReplyAfter(bytes) {
      replyCut = { left: bytes };
    },
    onFlowed(bytes, direction, then) {
      watches.push({ left: bytes, direction, then });
    },
    stall(on) {
      stalled = on;
    },
    cutAll,
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
