/**
 * Binary safety (SPEC §1.8): keys, fields, members, items and values that are not text (invalid
 * UTF-8, empty, NUL, newline, braces) arrive byte for byte, on the dump and the native path, and
 * the report names an invalid UTF-8 key by `keyBase64` (SPEC §5.3).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { counts } from '../harness/counts.js';
import {
  hash,
  hex,
  list,
  normalize,
  readValue,
  seed,
  set,
  snapshot,
  str,
  stream,
  type Value,
  zset,
} from '../harness/data.js';
import { type Servers, useServers } from '../harness/merge-servers.js';
import { digest } from '../harness/redis.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** Awkward byte strings, used as keys, fields, members, items and values. */
const ODD = [
  b(''),
  b('\xff\xfe'),
  b('\x00'),
  b('a\x00b'),
  b('line\nbreak'),
  b('{}'),
  b('\r\n'),
  b('\xc3\x28'),
];

/** [key, value] pairs whose keys and contents are all awkward bytes; one key per type and then some. */
const DATA: [Buffer, Value][] = [
  [b('\xff\xfe'), str(ALL_BYTES)],
  [b(''), str(b(''))],
  [b('\x00'), str(b('\x00\xff\n'))],
  [b('h\x00\xff'), hash(ODD.map((f, i): [Buffer, Buffer] => [f, ODD[(i + 3) % ODD.length]!]))],
  [b('{}'), set(...ODD)],
  [b('line\nbreak'), zset(...ODD.map((m, i): [Buffer, number] => [m, i === 0 ? -Infinity : i / 3]))],
  [b('\xfe'), list(...ODD, ...ODD.slice(0, 3))],
  [b('{tag}\x00\r\n'), stream(['1-1', [b('\xff'), b('')]], ['2-0', [b(''), b('\x00'), b('{}'), b('\n')]])],
];

const servers = useServers(1);
let source: Servers['t'];

beforeAll(() => {
  source = servers.s[0]!;
});

describe('binary keys and values pass through unchanged', () => {
  it.each(['auto', 'dump', 'native'])('create copies awkward bytes exactly (%s mode)', async (mode) => {
    await seed(source, DATA);
    const report = await servers.merge({ write: { mode } });
    expect(report.outcome).toBe('done');
    expect(report.totals).toEqual(counts({ created: DATA.length }));
    expect(await snapshot(servers.t)).toEqual(await snapshot(source));
    expect(await digest(servers.target)).toBe(await digest(servers.sources[0]!));
    expect(await servers.t.getBuffer(b('\xff\xfe'))).toEqual(ALL_BYTES);
    expect(await servers.t.getBuffer(b(''))).toEqual(b(''));
  });

  it.each(['auto', 'dump', 'native'])(
    'override replaces awkward bytes with awkward bytes exactly (%s mode)',
    async (mode) => {
      await seed(source, DATA);
      // The target holds every key with other contents of the same type.
      for (const [key, value] of DATA) {
        const other: Value =
          value.type === 'stream'
            ? stream(['0-1', [b('\xff\xff'), b('x')]])
            : value.type === 'string'
              ? str(b('\xfe\xfe'))
              : value.type === 'hash'
                ? hash([[b('\xff'), b('target')]])
                : value.type === 'set'
                  ? set(b('\xfa'))
                  : value.type === 'zset'
                    ? zset([b('\xfa'), 9])
                    : list(b('\xfa'));
        await seed(servers.t, [[key, other]]);
      }
      const report = await servers.merge({ strategies: { default: 'override' }, write: { mode } });
      expect(report.totals).toEqual(counts({ overridden: DATA.length }));
      expect(await snapshot(servers.t)).toEqual(await snapshot(source));
      expect(await digest(servers.target)).toBe(await digest(servers.sources[0]!));
    },
  );

  it('merges compare fields, members and items as bytes', async () => {
    await seed(source, [
      [
        b('h'),
        hash([
          [b('\xff'), b('s')],
          [b(''), b('\x00s')],
          [b('\xc3\xbf'), b('s')],
        ]),
      ],
      [b('s'), set(b('\xff'), b(''), b('\x00'))],
      [b('z'), zset([b('\xff'), 1], [b(''), 2], [b('\x00\x00'), 3])],
      [b('l'), list(b('\xff'), b(''), b('\xff'), b('\xc3\xbf'), b('\x00'))],
    ]);
    await seed(servers.t, [
      [
        b('h'),
        hash([
          [b('\xff'), b('t')],
          [b('\x00'), b('t')],
        ]),
      ],
      [b('s'), set(b('\xff'), b('\xfe'))],
      [b('z'), zset([b('\xff'), 10], [b('\x00'), 5])],
      [b('l'), list(b('\x00'), b('\xfd'))],
    ]);
    const report = await servers.merge({
      strategies: { default: 'merge', string: 'skip', stream: 'skip' },
      merge: { hashField: 'source', zsetScore: 'sum', list: 'union' },
    });
    expect(report.totals).toEqual(counts({ merged: 4 }));
    // \xff and \xc3\xbf are different bytes although both read as "ÿ" in some decodings.
    expect(await readValue(servers.t, b('h'), hex)).toEqual(
      normalize(
        hash([
          [b('\xff'), b('s')],
          [b(''), b('\x00s')],
          [b('\xc3\xbf'), b('s')],
          [b('\x00'), b('t')],
        ]),
        hex,
      ),
    );
    expect(await readValue(servers.t, b('s'), hex)).toEqual(
      normalize(set(b('\xff'), b('\xfe'), b(''), b('\x00')), hex),
    );
    expect(await readValue(servers.t, b('z'), hex)).toEqual(
      normalize(zset([b('\xff'), 11], [b(''), 2], [b('\x00\x00'), 3], [b('\x00'), 5]), hex),
    );
    expect(await readValue(servers.t, b('l'), hex)).toEqual(
      normalize(list(b('\x00'), b('\xfd'), b('\xff'), b(''), b('\xc3\xbf')), hex),
    );
  });

  it('a prefix is prepended to binary keys byte for byte', async () => {
    await seed(source, [
      [b('\xff'), str('1')],
      [b(''), str('2')],
    ]);
    await servers.merge({ sources: [{ prefix: 'p:' }] });
    const keys = (await servers.t.keysBuffer('*')).map(hex).sort();
    expect(keys).toEqual([hex(b('p:')), hex(b('p:\xff'))].sort());
  });
});

describe('the report names binary keys', () => {
  it('a conflict on a key that is not valid UTF-8 is sampled with keyBase64', async () => {
    await seed(source, [
      [b('\xff\xfe'), str('source')],
      [b('ok:é'), str('source')],
    ]);
    await seed(servers.t, [
      [b('\xff\xfe'), str('target')],
      [Buffer.from('ok:é', 'utf8'), str('target')],
    ]);
    await seed(source, [[Buffer.from('ok:é', 'utf8'), str('source')]]);
    const report = await servers.merge({ strategies: { default: 'skip' } });
    expect(report.conflicts.total).toBe(2);
    expect(report.conflicts.sample).toContainEqual({
      keyBase64: b('\xff\xfe').toString('base64'),
      source: 's1',
      sourceType: 'string',
      targetType: 'string',
      action: 'skipped',
    });
    expect(report.conflicts.sample).toContainEqual({
      key: 'ok:é',
      source: 's1',
      sourceType: 'string',
      targetType: 'string',
      action: 'skipped',
    });
    for (const entry of report.conflicts.sample)
      expect(entry.key === undefined).toBe(entry.keyBase64 !== undefined);
  });
});
