import { existsSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { type GlobOptions, globMatch } from '../../src/common/glob.js';
import { digest, type RedisServer, startRedis, withRedis } from '../harness/redis.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
// ioredis types a KEYS/SCAN pattern as a string but sends a Buffer's bytes unchanged.
const asPattern = (pattern: Buffer): string => pattern as unknown as string;
const show = (buf: Buffer): string => JSON.stringify(buf.toString('latin1'));

// The local redis-server was built for this machine: C char is signed on x86, unsigned on ARM & co.
const charOptions: GlobOptions = { signedChar: process.arch === 'x64' || process.arch === 'ia32' };

// Bytes that mean something to the matcher, plus NUL, high bytes, and a few ordinary ones.
const KEY_BYTES = 'abcxyA09:-_[]\\*?^ \n\x00\x7f\x80\xfe\xff';
const PATTERN_BYTES = 'abcx:-[]\\*?^\x00\x80\xff';

function buildKeys(): Buffer[] {
  const random = prng(0x5eed);
  const keys = new Map<string, Buffer>();
  const add = (key: Buffer): void => {
    keys.set(key.toString('hex'), key);
  };
  const fixed = [
    '',
    'a',
    'abc',
    'user:1',
    'user:42:name',
    'user:42:mail',
    'session:abc',
    '[',
    ']',
    '[]',
    '[a]',
    '\\',
    '\\\\',
    'a\\',
    '*',
    '?',
    '^',
    '-',
    'a-z',
    '\x00',
    'a\x00b',
    '\xff',
    '\xff\xff',
    '\x80',
    'key with spaces',
    'line\nbreak',
    '{tag}:1',
  ];
  for (const key of fixed) add(b(key));
  while (keys.size < 300) {
    const length = 1 + Math.floor(random() * 6);
    let key = '';
    for (let i = 0; i < length; i++) key += KEY_BYTES[Math.floor(random() * KEY_BYTES.length)];
    add(b(key));
  }
  return [...keys.values()];
}

const HAND_PATTERNS = [
  '*',
  '**',
  '',
  '?',
  '??',
  '???*',
  'a*',
  '*a',
  '*a*',
  'a*c',
  'user:*',
  'user:*:name',
  'user:??:*',
  '*:*',
  '[abc]',
  '[abc]*',
  '*[abc]',
  '[^abc]',
  '[^abc]*',
  '[a-c]*',
  '[c-a]*',
  '[^a-c]?',
  '[0-9]*',
  '[a-]*',
  '[-a]*',
  '[a-',
  '[a-*',
  '[]',
  '[]]*',
  '[\\]]*',
  '[\\[]*',
  '[[]*',
  '[\\\\]*',
  '[\\^]*',
  '[^^]',
  '[',
  '[^',
  '[abc',
  '*[',
  '\\*',
  '\\**',
  '\\?',
  '*\\?*',
  '\\[*',
  '\\',
  '*\\',
  'a\\',
  '\\\\*',
  '*\\\\',
  '\\a*',
  '\x00*',
  '*\x00*',
  '?\x00?',
  '[\x00]*',
  '\xff*',
  '*\xff',
  '[\x80-\xff]*',
  '[a-\xff]',
  '[\x7f-\x80]',
  '[\x00-\x1f]*',
  '*\n*',
  '* *',
  '{tag}*',
  '*[*]*',
  '*[?]*',
  '*-*',
];

function randomPatterns(count: number): string[] {
  const random = prng(0xbadc0de);
  const patterns: string[] = [];
  for (let n = 0; n < count; n++) {
    const length = Math.floor(random() * 7);
    let pattern = '';
    for (let i = 0; i < length; i++) pattern += PATTERN_BYTES[Math.floor(random() * PATTERN_BYTES.length)];
    patterns.push(pattern);
  }
  return patterns;
}

describe('globMatch agrees with KEYS and SCAN MATCH on a real redis-server', () => {
  let server: RedisServer;
  let client: Redis;
  const keys = buildKeys();

  beforeAll(async () => {
    server = await startRedis();
    client = server.client();
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.set(key, '1');
    await pipeline.exec();
    expect(await client.dbsize()).toBe(keys.length);
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function compareKeys(pattern: Buffer): Promise<void> {
    const fromServer = (await client.keysBuffer(asPattern(pattern))).map(show).sort();
    const fromGlob = keys.filter((key) => globMatch(pattern, key, charOptions)).map(show);
    expect(fromGlob.sort(), `pattern ${show(pattern)}`).toEqual(fromServer);
  }

  it(`${HAND_PATTERNS.length} chosen patterns select the same keys as KEYS`, async () => {
    for (const pattern of HAND_PATTERNS) await compareKeys(b(pattern));
  });

  it('300 random patterns of special bytes select the same keys as KEYS', async () => {
    for (const pattern of randomPatterns(300)) await compareKeys(b(pattern));
  });

  it('SCAN MATCH selects the same keys as globMatch', async () => {
    for (const pattern of HAND_PATTERNS.slice(0, 30)) {
      const found = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await client.scanBuffer(cursor, 'MATCH', asPattern(b(pattern)), 'COUNT', 1000);
        cursor = next.toString();
        for (const key of batch) found.add(show(key));
      } while (cursor !== '0');
      const expected = keys.filter((key) => globMatch(b(pattern), key, charOptions)).map(show);
      expect([...found].sort(), `pattern ${JSON.stringify(pattern)}`).toEqual(expected.sort());
    }
  });

  it('patterns nested deeper than the server allows behave like the server', async () => {
    const db1 = server.client(1);
    const long = b('a'.repeat(1_100));
    await db1.set(long, '1');
    for (const pattern of [
      '*a'.repeat(1000),
      '*a'.repeat(1001),
      `${'*a'.repeat(1000)}*`,
      '**a'.repeat(1001),
      `${'*a'.repeat(30)}*b`,
    ]) {
      const expected = (await db1.keysBuffer(asPattern(b(pattern)))).length === 1;
      expect(globMatch(b(pattern), long, charOptions), `${pattern.length}-byte pattern`).toBe(expected);
    }
  });
});

describe('test harness: startRedis', () => {
  it('starts a server that answers PING, and stop() ends it and removes its directory', async () => {
    const server = await startRedis();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}/0`);
    expect(await server.client().ping()).toBe('PONG');
    expect(existsSync(server.dir)).toBe(true);
    const config = (await server.client().config('GET', 'save')) as string[];
    expect(config).toEqual(['save', '']);
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
    expect(() => process.kill(server.pid, 0)).toThrow();
    await server.stop(); // twice is fine
  });

  it('renameCommands: { RESTORE: "" } disables RESTORE', async () => {
    await withRedis(
      1,
      async ([server]) => {
        const c = server!.client();
        await c.set('k', 'v');
        const payload = await c.dumpBuffer('k');
        await expect(c.call('RESTORE', 'k2', '0', payload)).rejects.toThrow(/unknown command/i);
        expect(await c.get('k')).toBe('v');
      },
      { renameCommands: { RESTORE: '' } },
    );
  });

  it("args ['--rename-command', 'RESTORE', ''] (a real empty argument) disables RESTORE too", async () => {
    const server = await startRedis({ args: ['--rename-command', 'RESTORE', ''] });
    try {
      const c = server.client();
      await c.set('k', 'v');
      const payload = await c.dumpBuffer('k');
      await expect(c.call('RESTORE', 'k2', '0', payload)).rejects.toThrow(/unknown command/i);
    } finally {
      await server.stop();
    }
  });

  it('an ACL read-only user can GET but not SET', async () => {
    const server = await startRedis({ aclUsers: ['reader on >pw ~* +@read -@write'] });
    try {
      await server.client().set('k', 'v');
      const reader = server.client(0, { username: 'reader', password: 'pw', enableReadyCheck: false });
      expect(await reader.get('k')).toBe('v');
      await expect(reader.set('k', 'w')).rejects.toThrow(/NOPERM/);
    } finally {
      await server.stop();
    }
  });

  it('a password is required, carried by url and client()', async () => {
    const server = await startRedis({ password: 'p@ss word' });
    try {
      expect(server.url).toBe(`redis://:p%40ss%20word@127.0.0.1:${server.port}/0`);
      expect(await server.client().ping()).toBe('PONG');
      const anonymous = server.client(0, { password: undefined, maxRetriesPerRequest: 0 });
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
      const wrong = server.client(0, {
        password: 'nope',
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      await expect(wrong.ping()).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });

  it('digest() is equal for equal data and differs otherwise', async () => {
    await withRedis(2, async ([one, two]) => {
      expect(await digest(one!)).toBe(await digest(two!));
      await one!.client().hset('h', 'f', 'v');
      expect(await digest(one!)).not.toBe(await digest(two!));
      await two!.client().hset('h', 'f', 'v');
      expect(await digest(one!)).toBe(await digest(two!));
    });
  });

  it('says how to install redis-server when it is not on PATH', async () => {
    const saved = { path: process.env.PATH, bin: process.env.KVMERGE_REDIS_SERVER };
    process.env.PATH = '/nonexistent';
    delete process.env.KVMERGE_REDIS_SERVER;
    try {
      await expect(startRedis()).rejects.toThrow('redis-server not found: apt-get install -y redis-server');
    } finally {
      process.env.PATH = saved.path;
      if (saved.bin !== undefined) process.env.KVMERGE_REDIS_SERVER = saved.bin;
    }
  });

  it('reports the server output when redis-server refuses to start', async () => {
    await expect(startRedis({ args: ['--no-such-option', 'x'] })).rejects.toThrow(
      /exited during startup[\s\S]*no-such-option/i,
    );
  });
});
