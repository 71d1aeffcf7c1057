/**
 * Streamed payloads take turns per source server (servers/payload-stream.ts `takeTurn`): a second DUMP
 * on one server waits until the first payload is read, while another server's proceeds at once.
 */
import { describe, expect, it } from 'vitest';
import { takeTurn } from '../../src/servers/payload-stream.js';
import { DEFAULT_NETWORK } from '../../src/servers/socket.js';
import type { ServerAt } from '../../src/servers/transport.js';

const at = (port: number): ServerAt => ({
  endpoint: { host: '127.0.0.1', port, db: 0, tls: false },
  network: DEFAULT_NETWORK,
});
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('turns to read a payload from a server', () => {
  it('one server serves its turns one after the other, in order; another server does not wait', async () => {
    const order: string[] = [];
    const first = await takeTurn(at(1));
    const second = takeTurn(at(1)).then((release) => {
      order.push('second');
      return release;
    });
    const third = takeTurn(at(1)).then((release) => {
      order.push('third');
      return release;
    });
    const elsewhere = await takeTurn(at(2));
    order.push('elsewhere');
    await tick();
    expect(order).toEqual(['elsewhere']);
    first();
    const releaseSecond = await second;
    await tick();
    expect(order).toEqual(['elsewhere', 'second']);
    // Released twice (the end of the payload, then the stream's end): the next turn is given once.
    releaseSecond();
    releaseSecond();
    (await third)();
    expect(order).toEqual(['elsewhere', 'second', 'third']);
    elsewhere();
    // Every turn given back: a new one is had at once.
    const again = await takeTurn(at(1));
    again();
  });
});
