import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { fileSourceOf, sourceId } from '../../src/config/url.js';
import { resolvePlan } from '../../src/index.js';

describe('an RDB file named as a source (SPEC §10)', () => {
  it('reads a path, a file:// URL and ?db=N; a redis:// URL is no file', () => {
    expect(fileSourceOf('./backups/a.rdb')).toEqual({ path: resolve('backups/a.rdb'), db: 0 });
    expect(fileSourceOf('/abs/a b.rdb?db=3')).toEqual({ path: '/abs/a b.rdb', db: 3 });
    expect(fileSourceOf('file:///abs/a%20b.rdb?db=1')).toEqual({ path: '/abs/a b.rdb', db: 1 });
    expect(fileSourceOf('file://./rel.rdb')).toEqual({ path: resolve('rel.rdb'), db: 0 });
    expect(fileSourceOf('redis://localhost:6379/0')).toBeUndefined();
    // Without a scheme, only what looks like a path is a file: `localhost:6379` stays a (bad) URL.
    expect(fileSourceOf('localhost:6379')).toBeUndefined();
    expect(fileSourceOf('backups/dump')).toBeUndefined();
    expect(fileSourceOf('backups/dump.RDB')).toEqual({ path: resolve('backups/dump.RDB'), db: 0 });
    expect(() => fileSourceOf('./a.rdb?db=one', '--source')).toThrow(ConfigError);
    expect(() => fileSourceOf('file://?db=1')).toThrow(/no file path/);
  });

  it('is the same source in the plan digest however the path is spelt', () => {
    expect(sourceId('./x.rdb')).toBe(sourceId(`file://${resolve('x.rdb')}?db=0`));
    expect(sourceId('./x.rdb?db=1')).not.toBe(sourceId('./x.rdb'));
  });

  it('makes a plan source named after the file, beside live sources, and refuses --follow', () => {
    const plan = resolvePlan(
      {
        version: 1,
        sources: [{ url: '/data/shard-a.rdb?db=2' }, { url: 'redis://h:1/0' }],
        target: { url: 'redis://t:2' },
      },
      {},
      {},
    );
    expect(plan.sources[0]).toMatchObject({
      name: 'shard-a.rdb/2',
      file: { path: '/data/shard-a.rdb', db: 2 },
    });
    expect(plan.sources[1]!.file).toBeUndefined();
    expect(() =>
      resolvePlan(
        { version: 1, sources: [{ url: './a.rdb' }], target: { url: 'redis://t:2' } },
        { follow: true },
        {},
      ),
    ).toThrow(/RDB file.*follow/);
  });
});
