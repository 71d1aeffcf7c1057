import { DATA_TYPES, type DataType } from '../decide/types.js';
import type { Reply, RespPipe } from '../redis/pipe.js';
import { globMatch } from '../scan/glob.js';
import type { Command } from '../write/commands.js';

/** A source as another source's probe sees it: does it hold a given target key, and as what type? */
export interface HolderView {
  pipe: RespPipe;
  prefix: Buffer;
  match?: Buffer;
}

/** What one round trip learned about one key of a batch. */
export interface KeyProbe {
  sourceKey: Buffer;
  /** prefix + sourceKey: the key on the target. */
  targetKey: Buffer;
  /** null: the key is gone from the source (deleted or expired since SCAN: TYPE expires it). */
  type: DataType | null;
  targetType: DataType | null;
  /** Types of the earlier sources (in declared order) that hold the target key. */
  earlier: DataType[];
  /** The source's estimate of the key's memory (MEMORY USAGE), when asked and answered. */
  memory?: number;
}

const KNOWN = new Set<string>(DATA_TYPES);

export function typeFromReply(reply: unknown): DataType | null {
  const name = String(reply);
  if (name === 'none') return null;
  return KNOWN.has(name) ? (name as DataType) : 'other';
}

/**
 * One pipelined round trip to each server for a whole batch, all in parallel: TYPE (and MEMORY
 * USAGE when `withMemory`, to find big keys before reading them) on the source, TYPE on the target
 * (its TTL matters only to merges, which read it with the values), TYPE on the earlier sources
 * that could hold the key. The earlier sources' types let a dry run predict the fold (SPEC §1.2)
 * and let both runs count keys held by more than one source.
 */
export async function probeBatch(
  source: RespPipe,
  prefix: Buffer,
  target: RespPipe,
  earlierSources: readonly HolderView[],
  keys: readonly Buffer[],
  opts: { withMemory: boolean; dryRun: boolean },
): Promise<KeyProbe[]> {
  const { withMemory, dryRun } = opts;
  const targetKeys = prefix.length > 0 ? keys.map((k) => Buffer.concat([prefix, k])) : keys;

  const sourceAsks: Command[] = [];
  for (const key of keys) {
    sourceAsks.push(['TYPE', key]);
    if (withMemory) sourceAsks.push(['MEMORY', 'USAGE', key, 'SAMPLES', 5]);
  }
  const targetAsks: Command[] = targetKeys.map((key) => ['TYPE', key]);
  const targetTypes = target.send(targetAsks).then((replies) => replies.map((r) => typeFromReply(value(r))));
  // A dry run asks the earlier sources about every key, at once: the target does not show what they
  // would have written. In a real run it does, and a key the target lacks has no earlier holder, so
  // only the keys the target holds are asked about (once the target has answered).
  const holders = dryRun
    ? Promise.all(earlierSources.map((view) => askHolder(view, targetKeys, () => true)))
    : targetTypes.then((types) =>
        Promise.all(earlierSources.map((view) => askHolder(view, targetKeys, (i) => types[i] !== null))),
      );
  const [sourceReplies, targetTypeList, holderTypes] = await Promise.all([
    source.send(sourceAsks),
    targetTypes,
    holders,
  ]);

  const per = withMemory ? 2 : 1;
  return keys.map((sourceKey, i) => {
    const probe: KeyProbe = {
      sourceKey,
      targetKey: targetKeys[i]!,
      type: typeFromReply(value(sourceReplies[i * per])),
      targetType: targetTypeList[i]!,
      earlier: [],
    };
    for (const types of holderTypes) {
      const held = types[i];
      if (held) probe.earlier.push(held);
    }
    if (withMemory) {
      // Denied (a restricted user) or unknown (Pika): the size is then learned from element counts.
      const bytes = sourceReplies[i * per + 1];
      if (typeof bytes === 'number') probe.memory = bytes;
    }
    return probe;
  });
}

/** The type under which `view` holds each target key (undefined where it cannot or does not). */
async function askHolder(
  view: HolderView,
  targetKeys: readonly Buffer[],
  wanted: (i: number) => boolean,
): Promise<(DataType | undefined)[]> {
  const result: (DataType | undefined)[] = new Array(targetKeys.length);
  const asked: number[] = [];
  const asks: Command[] = [];
  targetKeys.forEach((targetKey, i) => {
    if (!wanted(i) || !startsWith(targetKey, view.prefix)) return;
    const key = targetKey.subarray(view.prefix.length);
    if (view.match && !globMatch(view.match, key)) return;
    asks.push(['TYPE', key]);
    asked.push(i);
  });
  if (asked.length === 0) return result;
  const replies = await view.pipe.send(asks);
  asked.forEach((i, n) => {
    result[i] = typeFromReply(value(replies[n])) ?? undefined;
  });
  return result;
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** A pipeline reply's value; an error reply for a probe is a fault of the server or the user's rights. */
function value(reply: Reply | undefined): Reply {
  if (reply === undefined) throw new Error('pipeline returned fewer replies than commands');
  if (reply instanceof Error) throw reply;
  return reply;
}
