import { describe, expect, it } from 'vitest';
import { typeFromReply } from '../../src/types/type-reply.js';

describe('typeFromReply', () => {
  it.each([
    ['none', null],
    ['string', 'string'],
    ['hash', 'hash'],
    ['list', 'list'],
    ['set', 'set'],
    ['zset', 'zset'],
    ['stream', 'stream'],
    ['streams', 'stream'],
    ['ReJSON-RL', 'other'],
    ['nonx', 'other'],
    ['sex', 'other'],
    ['strinG', 'other'],
  ])('TYPE %s as bytes and as text is %s', (reply, type) => {
    expect(typeFromReply(Buffer.from(reply))).toBe(type);
    expect(typeFromReply(reply)).toBe(type);
  });
});
