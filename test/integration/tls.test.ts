/**
 * TLS (SPEC §4 --tls-*, §3.1 `tls` per server) against redis-server's own TLS port, with certificates
 * made by openssl for this test: a private CA, a server certificate for 127.0.0.1, a client certificate.
 * Every refusal is exit 2 with one line that says the fix.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/demo/local-server.js';
import { type CliOverrides, KvmergeError, runMerge } from '../../src/index.js';
import { commandCalls } from '../harness/commandstats.js';
import { hash, seed, str } from '../harness/data.js';
import { type Servers, startServers } from '../harness/merge-servers.js';
import { type RedisServer, startRedis } from '../harness/redis.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kvmerge-tls-'));
const file = (name: string): string => path.join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA. */
function makeCertificates(): void {
  openssl(
    'req',
    '-x509',
    '-new',
    '-nodes',
    '-newkey',
    'rsa:2048',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=kvmerge test CA',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(file(`${name}.ext`), ext);
    openssl(
      'req',
      '-new',
      '-nodes',
      '-newkey',
      'rsa:2048',
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      `/CN=kvmerge test ${name}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
    );
  }
}

interface TlsServer {
  server: RedisServer;
  tlsPort: number;
}

async function startTlsRedis(authClients: boolean): Promise<TlsServer> {
  const tlsPort = await freePort();
  const server = await startRedis({
    args: [
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      file('server.crt'),
      '--tls-key-file',
      file('server.key'),
      '--tls-ca-cert-file',
      file('ca.crt'),
      '--tls-auth-clients',
      authClients ? 'yes' : 'no',
    ],
  });
  return { server, tlsPort };
}

let servers: Servers;
let open: TlsServer;
let mutual: TlsServer;

beforeAll(async () => {
  makeCertificates();
  [servers, open, mutual] = await Promise.all([startServers(1), startTlsRedis(false), startTlsRedis(true)]);
});
afterAll(async () => {
  await Promise.all([servers?.stop(), open?.server.stop(), mutual?.server.stop()]);
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await servers.flush();
  await Promise.all([open.server.client().flushall(), mutual.server.client().flushall()]);
  await seed(servers.s[0]!, { s: str('v'), h: hash({ f: 'v' }) });
});

const rediss = (t: TlsServer): string => `rediss://127.0.0.1:${t.tlsPort}/0`;

async function mergeInto(target: string, overrides: CliOverrides = {}, targetTls?: object) {
  const doc = servers.doc({ target: { url: target } });
  if (targetTls) (doc.target as Record<string, unknown>).tls = targetTls;
  const { resolvePlan } = await import('../../src/index.js');
  return runMerge(resolvePlan(doc, overrides, {}));
}

async function refusal(run: Promise<unknown>): Promise<KvmergeError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvmergeError);
  expect((err as KvmergeError).exitCode).toBe(2);
  return err as KvmergeError;
}

async function expectCopied(t: TlsServer): Promise<void> {
  const c = t.server.client();
  expect(await c.get('s')).toBe('v');
  expect(await c.hget('h', 'f')).toBe('v');
}

describe('a TLS target with a private CA', () => {
  it('without the CA: exit 2, and the message says --tls-ca or --tls-insecure', async () => {
    const err = await refusal(mergeInto(rediss(open)));
    expect(err.message).toContain(`target ${rediss(open)}`);
    expect(err.message).toContain('--tls-ca FILE');
    expect(err.message).toContain('--tls-insecure');
    expect(err.message).not.toContain('\n');
  });

  it('with --tls-ca: merges', async () => {
    const report = await mergeInto(rediss(open), { tlsCa: file('ca.crt') });
    expect(report.outcome).toBe('done');
    expect(report.totals.created).toBe(2);
    await expectCopied(open);
  });

  it('with tls.ca in the config file (per server): merges', async () => {
    const report = await mergeInto(rediss(open), {}, { ca: file('ca.crt') });
    expect(report.outcome).toBe('done');
    await expectCopied(open);
  });

  it('with --tls-insecure: merges without verifying', async () => {
    const report = await mergeInto(rediss(open), { tlsInsecure: true });
    expect(report.outcome).toBe('done');
    await expectCopied(open);
  });

  it('a CA file that cannot be read: exit 2 naming the flag and the file', async () => {
    const err = await refusal(mergeInto(rediss(open), { tlsCa: file('missing.crt') }));
    expect(err.message).toContain('--tls-ca');
    expect(err.message).toContain('missing.crt');
  });
});

describe('a TLS target that asks for client certificates (tls-auth-clients yes)', () => {
  it('without one: exit 2, and the message says --tls-cert and --tls-key', async () => {
    const err = await refusal(mergeInto(rediss(mutual), { tlsCa: file('ca.crt') }));
    expect(err.message).toContain(`target ${rediss(mutual)}`);
    expect(err.message).toContain('--tls-cert FILE --tls-key FILE');
  });

  it('with --tls-cert and --tls-key: merges', async () => {
    const report = await mergeInto(rediss(mutual), {
      tlsCa: file('ca.crt'),
      tlsCert: file('client.crt'),
      tlsKey: file('client.key'),
    });
    expect(report.outcome).toBe('done');
    await expectCopied(mutual);
  });

  it('a big key is streamed whole over TLS too (its own connection, with the same certificates)', async () => {
    const fields = Array.from({ length: 20_000 }, (_, i) => [`f${i}`, `v${i}`]).flat();
    await servers.s[0]!.hset('big', ...fields);
    const t = mutual.server.client();
    await t.config('RESETSTAT');
    const report = await mergeInto(rediss(mutual), {
      tlsCa: file('ca.crt'),
      tlsCert: file('client.crt'),
      tlsKey: file('client.key'),
      bigKeyBytes: 8192,
    });
    expect(report.outcome, report.error).toBe('done');
    expect(report.totals.created).toBe(3);
    expect(await commandCalls(t, ['restore', 'rename'])).toEqual({ restore: 3, rename: 0 });
    expect(await t.hlen('big')).toBe(20_000);
  });
});

it('a redis:// URL to a TLS port: exit 2 with the hint to use rediss://', async () => {
  const err = await refusal(mergeInto(`redis://127.0.0.1:${open.tlsPort}/0`));
  expect(err.message).toContain('use a rediss:// URL');
});
