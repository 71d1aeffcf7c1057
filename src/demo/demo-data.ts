import type { ChainableCommander, Redis } from 'ioredis';

/*
 * The sample data of `kvmerge demo`: three shards of one imaginary application that overlap the way real
 * shards do after a re-sharding gone half-way, plus a target that already holds a little data.
 *
 *   user:<id>          hash    shard i holds ids [1500·i, 1500·i + 3000): consecutive shards share 1500 users,
 *                              each with the fields it knows (a: name, email; b: name, plan; c: name, lastLogin)
 *   tags:user:<id>     set     every third user of a shard, tags that differ per shard
 *   session:<n>        string  with a TTL; overlapping ranges, so `override` has work to do
 *   leaderboard:<game> zset    the same players on every shard, different scores (merged with `max`)
 *   events:<day>       list    per-shard events, appended in source order
 *   audit              stream  on shards a and b (streams are skipped when the key exists)
 *   config:flags       hash on the target and shard a, a string on shard c: a type mismatch
 *   bin:\xff\x00…      string  a binary key and value on shard b, copied byte for byte
 */

export const SHARD_NAMES = ['shard-a', 'shard-b', 'shard-c'] as const;

const USERS_PER_SHARD = 3000;
const USER_STRIDE = 1500;
const SESSIONS_PER_SHARD = 600;
const GAMES = ['chess', 'go', 'tetris', 'snake', 'pong'];
const PLAYERS = 200;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const FIRST_NAMES = [
  'ada',
  'alan',
  'grace',
  'linus',
  'barbara',
  'ken',
  'margaret',
  'dennis',
  'frances',
  'edsger',
];
const PLANS = ['free', 'pro', 'team'];

export const BINARY_KEY = Buffer.from([0x62, 0x69, 0x6e, 0x3a, 0xff, 0x00, 0xfe, 0x0a]);

/** Keys shown before and after the merge: each tells a different part of the story. */
export const SHOWCASE = [
  { key: 'user:2000', why: 'a hash on shard-a and shard-b with different fields: merged, field by field' },
  { key: 'leaderboard:chess', why: 'a zset on every shard: members united, the higher score kept (max)' },
  {
    key: 'config:flags',
    why: 'a hash on the target and shard-a, a string on shard-c: a type mismatch, skipped',
  },
] as const;

/** Sends the commands that `add` queues, 1 000 per round trip. */
async function pipelined(client: Redis, add: (queue: (fn: (p: ChainableCommander) => void) => void) => void) {
  let pipeline = client.pipeline();
  let queued = 0;
  const flushes: Promise<unknown>[] = [];
  add((fn) => {
    fn(pipeline);
    if (++queued % 1000 === 0) {
      flushes.push(pipeline.exec());
      pipeline = client.pipeline();
    }
  });
  flushes.push(pipeline.exec());
  const results = await Promise.all(flushes);
  for (const batch of results as ([Error | null, unknown][] | null)[]) {
    const failed = batch?.find(([err]) => err);
    if (failed) throw failed[0];
  }
}

/** A small deterministic generator, so that every demo run shows the same data. */
function numbers(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

/** Fills shard `index` (0, 1, 2) with its part of the sample data. */
export async function fillShard(client: Redis, index: number): Promise<void> {
  const shard = SHARD_NAMES[index]!;
  const next = numbers(index + 1);
  await pipelined(client, (q) => {
    for (let id = index * USER_STRIDE; id < index * USER_STRIDE + USERS_PER_SHARD; id++) {
      const name = FIRST_NAMES[id % FIRST_NAMES.length]!;
      const key = `user:${id}`;
      if (index === 0) q((p) => p.hset(key, { name, email: `${name}${id}@example.com` }));
      if (index === 1) q((p) => p.hset(key, { name: name.toUpperCase(), plan: PLANS[id % PLANS.length]! }));
      if (index === 2)
        q((p) => p.hset(key, { name, lastLogin: `2024-05-${String((id % 28) + 1).padStart(2, '0')}` }));
      if (id % 3 === 0) q((p) => p.sadd(`tags:user:${id}`, `${shard}-customer`, `cohort-${id % 7}`));
    }
    for (
      let n = index * (SESSIONS_PER_SHARD / 2);
      n < index * (SESSIONS_PER_SHARD / 2) + SESSIONS_PER_SHARD;
      n++
    ) {
      q((p) => p.set(`session:${n}`, `${shard}:user:${n % 97}`, 'EX', 3600 + (next() % 3600)));
    }
    for (const game of GAMES) {
      const members: (string | number)[] = [];
      for (let k = 0; k < PLAYERS; k++) members.push(next() % 10_000, `player:${k}`);
      q((p) => p.zadd(`leaderboard:${game}`, ...members));
    }
    for (const day of DAYS) {
      const events = Array.from(
        { length: 20 },
        (_, i) => `${shard}:${i % 2 ? 'login' : 'purchase'}:user:${next() % 6000}`,
      );
      q((p) => p.rpush(`events:${day}`, ...events));
    }
    if (index < 2) {
      for (let i = 0; i < 20; i++) q((p) => p.xadd('audit', '*', 'shard', shard, 'event', `deploy-${i}`));
    }
    if (index === 0) q((p) => p.hset('config:flags', { beta: 'on', 'new-checkout': 'on' }));
    if (index === 1) q((p) => p.set(BINARY_KEY, Buffer.from([0x00, 0xff, 0x10, 0x80])));
    if (index === 2) q((p) => p.set('config:flags', 'dark-mode=on'));
  });
}

/** What the target holds before the merge: a few users with a role, the flags hash, some sessions. */
export async function fillTarget(client: Redis): Promise<void> {
  await pipelined(client, (q) => {
    for (let id = 0; id < 50; id++)
      q((p) => p.hset(`user:${id}`, { role: id % 10 === 0 ? 'admin' : 'member' }));
    q((p) => p.hset('config:flags', { 'dark-mode': 'off', beta: 'off' }));
    for (let n = 0; n < 20; n++) q((p) => p.set(`session:${n}`, 'target:stale', 'EX', 600));
  });
}

type Describe = (client: Redis, key: string) => Promise<string>;

/** Per type reply of TYPE: how a key of it is shown, its first members only. */
const DESCRIBE: Record<string, Describe> = {
  none: async () => '(absent)',
  string: async (client, key) => `string ${JSON.stringify(await client.get(key))}`,
  hash: async (client, key) => {
    const fields = Object.entries(await client.hgetall(key)).sort(([a], [b]) => a.localeCompare(b));
    return `hash { ${fields.map(([f, v]) => `${f}: ${v}`).join(', ')} }`;
  },
  zset: async (client, key) => {
    const size = await client.zcard(key);
    const top = await client.zrevrange(key, 0, 2, 'WITHSCORES');
    const pairs: string[] = [];
    for (let i = 0; i < top.length; i += 2) pairs.push(`${top[i]}=${top[i + 1]}`);
    return `zset of ${size}, top 3: ${pairs.join(', ')}`;
  },
  set: async (client, key) => `set { ${(await client.smembers(key)).sort().join(', ')} }`,
  list: async (client, key) =>
    `list of ${await client.llen(key)}, first: ${(await client.lrange(key, 0, 2)).join(', ')}`,
};

/** A one-line rendering of a key's value (first members only), for the before/after display. */
export async function describeKey(client: Redis, key: string): Promise<string> {
  const type = await client.type(key);
  const describe = Object.hasOwn(DESCRIBE, type) ? DESCRIBE[type] : undefined;
  return describe ? describe(client, key) : type;
}
