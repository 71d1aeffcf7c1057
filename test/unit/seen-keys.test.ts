/**
 * SeenKeys is what makes "each (source, key) pair is applied at most once" hold when SCAN returns a
 * key twice (SPEC §1.6): a list append or zset sum applied twice is corruption, and a false
 * "seen" would silently drop a key.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { SeenKeys } from '../../src/common/seen-keys.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('SeenKeys: a key SCAN returns twice is taken once', () => {
  it('add returns true the first time and false for a repeat', () => {
    const seen = new SeenKeys();
    expect(seen.add(b('user:1'))).toBe(true);
    expect(seen.add(b('user:1'))).toBe(false);
    expect(seen.add(Buffer.from('user:1'))).toBe(false); // another Buffer with the same bytes
    expect(seen.add(b('user:2'))).toBe(true);
    expect(seen.size).toBe(2);
  });

  it('keys that differ by one byte, by length, or only in awkward bytes are distinct', () => {
    const keys = [
      '',
      '\x00',
      '\x00\x00',
      'a',
      'a\x00',
      '\x00a',
      'ab',
      'ba',
      'user:1',
      'user:1\n',
      'user:10',
      '\xff',
      '\xff\xfe',
      '\xfe\xff',
      '\xc3\xbf',
      '{}',
      '{tag}',
    ].map(b);
    const seen = new SeenKeys();
    for (const key of keys) expect(seen.add(key), JSON.stringify(key.toString('latin1'))).toBe(true);
    for (const key of keys) expect(seen.add(key), JSON.stringify(key.toString('latin1'))).toBe(false);
    expect(seen.size).toBe(keys.length);
  });

  it('the empty key is a key like any other', () => {
    const seen = new SeenKeys();
    expect(seen.add(Buffer.alloc(0))).toBe(true);
    expect(seen.add(Buffer.alloc(0))).toBe(false);
  });

  it('200 000 distinct random binary keys: no false repeat, and every repeat is caught', () => {
    const random = prng(0x5eed);
    const unique = new Map<string, Buffer>();
    while (unique.size < 200_000) {
      const length = Math.floor(random() * 24);
      const key = Buffer.alloc(length);
      for (let i = 0; i < length; i++) key[i] = Math.floor(random() * 256);
      unique.set(key.toString('hex'), key);
    }
    const keys = [...unique.values()];
    const seen = new SeenKeys();
    let falseRepeats = 0;
    for (const key of keys) if (!seen.add(key)) falseRepeats++;
    expect(falseRepeats).toBe(0);
    expect(seen.size).toBe(keys.length);
    let missed = 0;
    for (const key of keys) if (seen.add(Buffer.from(key))) missed++;
    expect(missed).toBe(0);
    expect(seen.size).toBe(keys.length);
  });

  it('200 000 keys of one common shape (prefix + counter) have no false repeat', () => {
    const seen = new SeenKeys();
    let falseRepeats = 0;
    for (let i = 0; i < 200_000; i++) if (!seen.add(Buffer.from(`session:${i}`))) falseRepeats++;
    expect(falseRepeats).toBe(0);
    let missed = 0;
    for (let i = 0; i < 200_000; i += 7) if (seen.add(Buffer.from(`session:${i}`))) missed++;
    expect(missed).toBe(0);
  });

  it('grows past its initial capacity without losing what it holds', () => {
    const seen = new SeenKeys(4);
    const keys = Array.from({ length: 5_000 }, (_, i) => Buffer.from(`k${i}`));
    let falseRepeats = 0;
    let forgotten = 0;
    keys.forEach((key, i) => {
      if (!seen.add(key)) falseRepeats++;
      // Everything added before, across every growth, is still known.
      if (i % 500 === 0) for (const earlier of keys.slice(0, i + 1)) if (seen.add(earlier)) forgotten++;
    });
    expect(falseRepeats).toBe(0);
    expect(forgotten).toBe(0);
    expect(seen.size).toBe(keys.length);
    expect(keys.filter((key) => seen.add(key))).toEqual([]);
  });

  it('an interleaving of new keys and repeats, like SCAN across a rehash, counts each key once', () => {
    const random = prng(42);
    const seen = new SeenKeys(16);
    const taken = new Set<number>();
    const wrong: string[] = [];
    for (let n = 0; n < 50_000; n++) {
      const id = Math.floor(random() * 20_000);
      const isNew = !taken.has(id);
      taken.add(id);
      if (seen.add(Buffer.from(`key:${id}`)) !== isNew) wrong.push(`step ${n}: key:${id} (new: ${isNew})`);
    }
    expect(wrong).toEqual([]);
    expect(seen.size).toBe(taken.size);
  });

  it('addMany and hasMany answer as add and has key by key: repeats within one call, growth mid-call, pages of any size', () => {
    const random = prng(7);
    const one = new SeenKeys(8);
    const many = new SeenKeys(8);
    const wrong: string[] = [];
    for (let page = 0; page < 300; page++) {
      // Pages of 0 to 3,000 keys drawn from 30,000 names: repeats across pages and within a page.
      const keys = Array.from({ length: Math.floor(random() * 3_000) }, () =>
        Buffer.from(`key:${Math.floor(random() * 30_000)}`),
      );
      const asked = keys.map((key) => one.has(key));
      const found = new Uint8Array(keys.length);
      many.hasMany(keys, found);
      const expected = keys.map((key) => one.add(key));
      const fresh = new Uint8Array(keys.length);
      many.addMany(keys, fresh);
      keys.forEach((key, i) => {
        if (found[i] !== (asked[i] ? 1 : 0)) wrong.push(`page ${page}: hasMany(${key}) = ${found[i]}`);
        if (fresh[i] !== (expected[i] ? 1 : 0)) wrong.push(`page ${page}: addMany(${key}) = ${fresh[i]}`);
      });
    }
    expect(wrong).toEqual([]);
    expect(many.size).toBe(one.size);
    expect(many.bytes).toBe(one.bytes);
  });
});
