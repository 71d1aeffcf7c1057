import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import {
  endpointLabel,
  isSameDatabase,
  parseRedisUrl,
  redactSecrets,
  redactUrl,
  redactUrlsInText,
} from '../../src/config/url.js';
import { toIoredisOptions } from '../../src/servers/connect.js';

/** The ConfigError thrown by `fn`, failing the test when there is none. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseRedisUrl', () => {
  it('reads user, password, host, port and db', () => {
    expect(parseRedisUrl('redis://alice:s3cret@10.0.0.11:6380/3')).toEqual({
      host: '10.0.0.11',
      port: 6380,
      db: 3,
      username: 'alice',
      password: 's3cret',
      tls: false,
    });
  });

  it('defaults the port to 6379 and the db to 0', () => {
    expect(parseRedisUrl('redis://cache.local')).toEqual({
      host: 'cache.local',
      port: 6379,
      db: 0,
      tls: false,
    });
    expect(parseRedisUrl('redis://cache.local/')).toMatchObject({ port: 6379, db: 0 });
  });

  it('takes rediss:// as TLS', () => {
    const e = parseRedisUrl('rediss://h:6390/1');
    expect(e.tls).toBe(true);
    expect(toIoredisOptions(e)).toEqual({ host: 'h', port: 6390, db: 1, tls: {} });
  });

  it('reads a password without a user name', () => {
    const e = parseRedisUrl('redis://:pw@h');
    expect(e.password).toBe('pw');
    expect(e.username).toBeUndefined();
  });

  it('decodes percent-encoded credentials', () => {
    expect(parseRedisUrl('redis://us%3Aer:p%40ss%2Fw%3Ard@h')).toMatchObject({
      username: 'us:er',
      password: 'p@ss/w:rd',
    });
  });

  it('splits the credentials at the last @, so an unencoded @ or / in a password still parses', () => {
    expect(parseRedisUrl('redis://:p@s/s@h:7000/2')).toMatchObject({
      password: 'p@s/s',
      host: 'h',
      port: 7000,
      db: 2,
    });
  });

  it('reads bracketed IPv6 addresses and lower-cases host names', () => {
    expect(parseRedisUrl('redis://[::1]:6380/2')).toMatchObject({ host: '::1', port: 6380, db: 2 });
    expect(parseRedisUrl('REDIS://Cache.Example.COM')).toMatchObject({ host: 'cache.example.com' });
  });

  it.each([
    ['http://h:6379', 'unsupported scheme'],
    ['h:6379', 'not a Redis URL'],
    ['redis://h:abc', 'bad port "abc"'],
    ['redis://h:0', 'bad port "0"'],
    ['redis://h:70000', 'bad port "70000"'],
    ['redis://h:', 'bad port ""'],
    ['redis://h/x', 'bad database "x"'],
    ['redis://h/-1', 'bad database "-1"'],
    ['redis://h/0/1', 'bad database "0/1"'],
    ['redis://:6379', 'missing host'],
    ['redis://h?db=1', 'query'],
    ['redis://::1:6379', 'IPv6'],
    ['redis://h o/0', 'bad host'],
  ])('refuses %s with a ConfigError on the given field', (url, what) => {
    const err = configError(() => parseRedisUrl(url, 'sources[1].url'));
    expect(err.field).toBe('sources[1].url');
    expect(err.message).toContain(what);
    expect(err.message).toContain('redis://localhost:6379');
    expect(err.exitCode).toBe(2);
  });

  it('refuses user information without ":" instead of guessing whether it is a user or a password', () => {
    const err = configError(() => parseRedisUrl('redis://hunter2@h'));
    expect(err.message).toContain(':PASSWORD@ before the host');
    expect(err.message).not.toContain('hunter2');
  });

  it('never puts the password in its error messages', () => {
    for (const url of [
      'redis://u:hunter2@h:99999',
      'redis://:hunter2@h/x',
      'http://u:hunter2@h',
      'redis://:hunter2%zz@h',
      'redis://:hunter2@h?x=1',
    ]) {
      expect(configError(() => parseRedisUrl(url)).message).not.toContain('hunter2');
    }
  });
});

describe('redactUrl', () => {
  it('masks the password and keeps the user name', () => {
    expect(redactUrl('redis://alice:s3cret@10.0.0.11:6379/0')).toBe('redis://alice:***@10.0.0.11:6379/0');
  });

  it('masks a password without a user name', () => {
    expect(redactUrl('rediss://:s3cret@h')).toBe('rediss://:***@h:6379/0');
  });

  it('masks a URL-encoded password in both spellings', () => {
    const out = redactUrl('redis://u:p%40ss%3Aword@h:6379/0');
    expect(out).toBe('redis://u:***@h:6379/0');
    expect(out).not.toContain('p%40ss');
    expect(out).not.toContain('p@ss');
  });

  it('leaves a URL without a password unchanged apart from normalisation', () => {
    expect(redactUrl('redis://10.0.0.20:6379/0')).toBe('redis://10.0.0.20:6379/0');
    expect(redactUrl('redis://Cache')).toBe('redis://cache:6379/0');
    expect(redactUrl('redis://[::1]:7000/1')).toBe('redis://[::1]:7000/1');
  });

  it.each([
    ['a bad port', 'redis://u:hunter2@h:notaport/0', 'redis://u:***@h:notaport/0'],
    ['a bad scheme', 'http://u:hunter2@h', 'http://u:***@h'],
    ['no scheme', 'u:hunter2@h:6379', 'u:***@h:6379'],
    ['a redis-cli style bare password', 'redis://hunter2@h', 'redis://***@h'],
    ['a password with / and @ in it', 'redis://:hun/ter@2@h:x', 'redis://:***@h:x'],
    ['a password in a query string', 'redis://h?password=hunter2&x=1', 'redis://h?password=***&x=1'],
  ])('masks %s in a malformed URL', (_what, url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('redactUrlsInText', () => {
  it('masks the credentials of every URL in a message', () => {
    const text = 'connect redis://u:hunter2@a:1/0 failed, then rediss://:pw2@b failed, and redis://pw3@c too';
    const out = redactUrlsInText(text);
    for (const secret of ['hunter2', 'pw2', 'pw3']) expect(out).not.toContain(secret);
    expect(out).toContain('redis://u:***@a:1/0');
  });
});

describe('redactSecrets', () => {
  it('replaces every occurrence of every non-empty secret, in plain and URL-encoded spelling', () => {
    const out = redactSecrets('auth p@ss failed; url redis://:p%40ss@h; again p@ss; other tok', [
      'p@ss',
      '',
      'tok',
    ]);
    expect(out).toBe('auth *** failed; url redis://:***@h; again ***; other ***');
  });

  it('masks a longer secret whole when it contains a shorter one', () => {
    expect(redactSecrets('x abcdef y', ['abc', 'abcdef'])).toBe('x *** y');
  });

  it('returns the text unchanged without secrets', () => {
    expect(redactSecrets('nothing here', [])).toBe('nothing here');
  });
});

describe('endpointLabel and toIoredisOptions', () => {
  it('labels an endpoint host:port/db, bracketing IPv6', () => {
    expect(endpointLabel(parseRedisUrl('redis://:pw@10.0.0.11'))).toBe('10.0.0.11:6379/0');
    expect(endpointLabel(parseRedisUrl('redis://[::1]:7000/4'))).toBe('[::1]:7000/4');
  });

  it('passes credentials to ioredis and leaves out what the URL does not give', () => {
    expect(toIoredisOptions(parseRedisUrl('redis://u:p@h:1/2'))).toEqual({
      host: 'h',
      port: 1,
      db: 2,
      username: 'u',
      password: 'p',
    });
    expect(toIoredisOptions(parseRedisUrl('redis://h'))).toEqual({ host: 'h', port: 6379, db: 0 });
  });
});

describe('isSameDatabase', () => {
  const same = (a: string, b: string) => isSameDatabase(parseRedisUrl(a), parseRedisUrl(b));

  it('treats localhost, 127.0.0.1 and ::1 as one host', () => {
    expect(same('redis://localhost:6379/0', 'redis://127.0.0.1:6379/0')).toBe(true);
    expect(same('redis://[::1]:6379', 'redis://localhost')).toBe(true);
    expect(same('redis://127.1:6379', 'redis://127.0.0.1')).toBe(true);
  });

  it('ignores credentials and TLS, not port or db', () => {
    expect(same('redis://:a@h:6379/0', 'rediss://u:b@H:6379/0')).toBe(true);
    expect(same('redis://h:6379/0', 'redis://h:6379/1')).toBe(false);
    expect(same('redis://h:6379/0', 'redis://h:6380/0')).toBe(false);
    expect(same('redis://h1', 'redis://h2')).toBe(false);
  });
});
