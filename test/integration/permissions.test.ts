/**
 * SPEC §6.4: permissions are checked before the first write. A target user who may not write, or a
 * source user who may not read, is exit 2 naming the refused command, in a dry run too, and nothing
 * is written. Both ways of checking are exercised: ACL DRYRUN (a user who may run ACL) and the
 * MULTI … DISCARD probe (a user who may not).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KvmergeError, runMerge } from '../../src/index.js';
import { hash, list, seed, str } from '../harness/data.js';
import { type Servers, startServers } from '../harness/merge-servers.js';
import { digest, type RedisServer } from '../harness/redis.js';

const TARGET_USERS = [
  // Reads and transactions, no writes: the MULTI … DISCARD probe answers.
  'probed on >pw ~* &* +@read +multi +exec +discard +ping',
  // Everything but writes, ACL included: ACL DRYRUN answers.
  'dryrun on >pw ~* &* +@all -@write',
  // Nothing but reads: not even MULTI.
  'readonly on >pw ~* &* +@read',
];
const SOURCE_USERS = ['noread on >pw ~* &* +@connection', 'nodbsize on >pw ~* &* +@read -dbsize'];

let servers: Servers;
const url = (server: RedisServer, user: string): string => `redis://${user}:pw@127.0.0.1:${server.port}/0`;

beforeAll(async () => {
  servers = await startServers(1, { target: { aclUsers: TARGET_USERS }, source: { aclUsers: SOURCE_USERS } });
});
afterAll(async () => {
  await servers?.stop();
});
beforeEach(async () => {
  await servers.flush();
  await seed(servers.s[0]!, { s: str('v'), h: hash({ f: 'v' }), l: list('a') });
  await seed(servers.t, { l: list('t') });
});

async function refusal(plan: ReturnType<Servers['plan']>): Promise<KvmergeError> {
  const err = await runMerge(plan).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvmergeError);
  return err as KvmergeError;
}

describe('a target user who may not write', () => {
  it.each([
    ['probed', 'SET', false],
    ['probed', 'SET', true],
    ['dryrun', 'SET', false],
    ['dryrun', 'SET', true],
    ['readonly', 'MULTI', false],
  ])('%s (dry run %s): exit 2 naming %s, nothing written', async (user, command, dryRun) => {
    const before = await digest(servers.target);
    const err = await refusal(
      servers.plan({ target: { url: url(servers.target, user) } }, { dryRun: dryRun as boolean }),
    );
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`target redis://${user}:***@127.0.0.1:${servers.target.port}/0`);
    expect(err.message).toContain(`the user "${user}" may not run ${command}`);
    expect(err.message).toContain('ACL SETUSER');
    expect(err.message).not.toContain(':pw@');
    expect(await digest(servers.target)).toBe(before);
  });
});

describe('a source user', () => {
  it('who may not read: exit 2 naming the source and SCAN', async () => {
    const before = await digest(servers.target);
    const err = await refusal(servers.plan({ sources: [{ url: url(servers.sources[0]!, 'noread') }] }));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(
      /^source s1 \(redis:\/\/noread:\*\*\*@127\.0\.0\.1:\d+\/0\): the user "noread" may not run SCAN/,
    );
    expect(await digest(servers.target)).toBe(before);
  });

  it('who may read but not run DBSIZE: the merge runs (only the progress estimate is lost)', async () => {
    const report = await servers.merge({ sources: [{ url: url(servers.sources[0]!, 'nodbsize') }] });
    expect(report.outcome).toBe('done');
    expect(report.totals.created).toBe(2);
    expect(await servers.t.hget('h', 'f')).toBe('v');
  });
});
