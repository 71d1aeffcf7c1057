import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import {
  endpointLabel,
  isSameDatabase,
  parseRedisUrl,
  redactUrl,
  redactUrlsInText,
} from '../../src/config/url.js';
import { toIoredisOptions } from '../../src/servers/connect.js';

describe('redis+sentinel:// URLs', () => {
  it('reads the sentinels, the master name, the db and both sets of credentials', () => {
    const e = parseRedisUrl(
      'redis+sentinel://app:s3cret@Sentinel-1:26380,10.0.0.2/mymaster/3?sentinelUsername=sen&sentinelPassword=p%40ss',
    );
    expect(e).toEqual({
      host: 'sentinel-1',
      port: 26380,
      db: 3,
      tls: false,
      username: 'app',
      password: 's3cret',
      sentinel: {
        nodes: [
          { host: 'sentinel-1', port: 26380 },
          { host: '10.0.0.2', port: 26379 },
        ],
        name: 'mymaster',
        username: 'sen',
        password: 'p@ss',
      },
    });
    expect(toIoredisOptions(e)).toMatchObject({
      sentinels: [
        { host: 'sentinel-1', port: 26380 },
        { host: '10.0.0.2', port: 26379 },
      ],
      name: 'mymaster',
      sentinelUsername: 'sen',
      sentinelPassword: 'p@ss',
      password: 's3cret',
      db: 3,
    });
  });

  it('defaults the db to 0 and labels the source by sentinels and master name', () => {
    const e = parseRedisUrl('redis+sentinel://h1:1,h2:2/mymaster');
    expect(e.db).toBe(0);
    expect(e.sentinel?.password).toBeUndefined();
    expect(endpointLabel(e)).toBe('h1:1,h2:2/mymaster/0');
  });

  it('redacts both passwords', () => {
    const url = 'redis+sentinel://:topsecret@h1:26379/mymaster/0?sentinelPassword=alsosecret';
    const shown = redactUrl(url);
    expect(shown).toBe('redis+sentinel://:***@h1:26379/mymaster/0?sentinelPassword=***');
    expect(redactUrlsInText(`cannot use ${url} now`)).not.toMatch(/topsecret|alsosecret/);
    // A URL that does not parse is still masked.
    expect(redactUrl('redis+sentinel://h1:26379/?sentinelPassword=alsosecret')).not.toContain('alsosecret');
  });

  it.each([
    ['redis+sentinel://h1:26379', /missing master name/],
    ['redis+sentinel://h1:26379/', /missing master name/],
    ['redis+sentinel://h1:26379/m/x', /bad database "x"/],
    ['redis+sentinel://h1:26379,/m', /missing host/],
    ['redis+sentinel://h1:26379/m?password=x', /unknown query parameter "password"/],
    ['rediss+sentinel://h1:26379/m', /TLS through Sentinel is not supported/],
  ])('refuses %s with a message naming the problem', (url, message) => {
    expect(() => parseRedisUrl(url, 'target.url')).toThrow(ConfigError);
    expect(() => parseRedisUrl(url, 'target.url')).toThrow(message);
  });

  it('takes two URLs of one master set through a shared sentinel as the same database', () => {
    const a = parseRedisUrl('redis+sentinel://h1:26379,h2:26379/mymaster/0');
    expect(isSameDatabase(a, parseRedisUrl('redis+sentinel://localhost:1,h2:26379/mymaster/0'))).toBe(true);
    expect(isSameDatabase(a, parseRedisUrl('redis+sentinel://h2:26379/mymaster/1'))).toBe(false);
    expect(isSameDatabase(a, parseRedisUrl('redis+sentinel://h2:26379/other/0'))).toBe(false);
    expect(isSameDatabase(a, parseRedisUrl('redis://h1:26379/0'))).toBe(false);
  });
});
