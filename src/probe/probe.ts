import { globMatch } from '../common/glob.js';
import type { SeenKeys } from '../common/seen-keys.js';
import { PROBE_REPLIES_PER_KEY, probeAndDumpCommand, typesCommand } from '../servers/batch-scripts.js';
import type { Caps } from '../servers/caps.js';
import { now } from '../servers/clock.js';
import type { Command, Reply } from '../servers/resp.js';
import type { Transport } from '../servers/transport.js';
import type { DataType } from '../types/strategy.js';
import { typeAskCount, typeAsks, typeFromReply, typeList, typesFrom, value } from '../types/type-reply.js';
import { payloadType } from '../write/rdb-type.js';

/**
 * A name as SCAN found it, before the probe learns which types it holds: not yet a key at work
 * (KeyAtWork, types/strategy.ts), which the probe expands it into, one per type the name holds.
 */
export interface ScannedName {
  key: Buffer;
  /** Only a question (does the name also hold this type?): where it does not, nothing is counted. */
  ifHeld?: boolean;
}

/**
 * One type of a source name (Pika 3.x, where a name holds several): probed for that type only, gone
 * if the name no longer holds it.
 */
export interface NamedType extends ScannedName {
  type: DataType;
}

/** What the probe is given: a name as scanned, or one type of it. */
export type ProbeUnit = ScannedName | NamedType;

/** An endpoint as the probe asks it: its pipe, and whether one name can hold several types there. */
export interface ProbeSide {
  pipe: Transport;
  caps: Pick<Caps, 'multiTypeNames' | 'memoryUsage' | 'staleType' | 'batchScripts'>;
  /** A source that is not a server (an RDB file): it answers for its keys itself (`dumpBelow` as below). */
  answers?(keys: readonly Buffer[], dumpBelow: number): SourceAnswer[];
}

/** A source as another source's probe sees it: does it hold a given target key, and as what types? */
export interface HolderView extends ProbeSide {
  prefix: Buffer;
  match?: Buffer;
  /** A source that is not a server (an RDB file): the types it holds each key under, from itself. */
  types?(keys: readonly Buffer[]): Promise<DataType[][]>;
  /**
   * The keys this source's walk took, once it is over (SourceReads.walked): a key not among them is not
   * asked about, since the fold took nothing of it from this source. Undefined: ask.
   */
  walked?(): SeenKeys | undefined;
}

/** What one round trip learned about one unit of a batch. */
export interface KeyProbe {
  sourceKey: Buffer;
  /** prefix + sourceKey: the key on the target. */
  targetKey: Buffer;
  /** null: the key is gone from the source (deleted or expired since SCAN: TYPE expires it). */
  type: DataType | null;
  /**
   * The target's holder of this unit: its type, or null when it has none. Where a name can hold
   * several types (Pika 3.x target), only the same type is a holder: another type lives beside it.
   */
  targetType: DataType | null;
  /** Every type the target holds under the name (more than one only on a Pika 3.x target). */
  targetTypes: readonly DataType[];
  /** Every type the source holds under the name, in TYPE_ORDER (more than one only on Pika 3.x). */
  sourceTypes: readonly DataType[];
  /** Types of the earlier sources (in declared order) that hold the target key. */
  earlier: readonly DataType[];
  /** How many earlier sources hold the target key. */
  earlierHolders: number;
  /** The source's estimate of the key's memory (MEMORY USAGE), when asked and answered. */
  memory?: number;
  /** From a unit that only asked (ScannedName.ifHeld). */
  ifHeld?: boolean;
  /**
   * The target was not asked: assumed not to hold the key (`assumeAbsent`). Only a RESTORE without
   * REPLACE, which refuses to overwrite (BUSYKEY), may act on it; anything else decides it again.
   */
  targetAssumed?: boolean;
  /**
   * A small value's PTTL reply and DUMP payload (null: gone), read by the probe's script in the same
   * instant as its type, at `sentAt`: the dump path writes it without reading again.
   */
  prefetched?: { pttl: number; payload: Buffer | null; sentAt: number };
}

/** What the probe learned of one source key. */
export interface SourceAnswer {
  types: readonly DataType[];
  memory?: number;
  prefetched?: KeyProbe['prefetched'];
}

/** A name gone from the source: one probe of no type. */
const GONE: readonly null[] = Object.freeze([null]);

/**
 * One pipelined round trip to each server for a whole batch, all in parallel: the source's types
 * (and MEMORY USAGE where the server has it and `withMemory`, to find big keys before reading
 * them), the target's types (its TTL matters only to merges, which read it with the values), the
 * types of the earlier sources that could hold the key. The earlier sources' types let a dry run
 * predict the fold (SPEC §1.2) and let both runs count keys held by more than one source.
 * A unit without a type comes back as one probe per type its name holds, in TYPE_ORDER.
 */
export async function probeBatch(
  source: ProbeSide,
  prefix: Buffer,
  target: ProbeSide,
  earlierSources: readonly HolderView[],
  units: readonly ProbeUnit[],
  opts: {
    withMemory: boolean;
    dryRun: boolean;
    /** Values of at most this many bytes (MEMORY USAGE) are dumped by the probe where it can (0: none). */
    dumpBelow?: number;
    /**
     * The target is not asked about keys whose payload the source's script returned: they are assumed
     * absent there (KeyProbe.targetAssumed). Saves the target a TYPE per key where it holds few of them.
     */
    assumeAbsent?: boolean;
  },
): Promise<KeyProbe[]> {
  const { dryRun } = opts;
  const withMemory = opts.withMemory && source.caps.memoryUsage;
  const targetMulti = target.caps.multiTypeNames;
  const keys = units.map((u) => u.key);
  const targetKeys = prefix.length > 0 ? keys.map((k) => Buffer.concat([prefix, k])) : keys;

  const sourceAnswering = askSource(source, keys, withMemory, opts.dumpBelow ?? 0);
  // Assumed absent: the target is asked only about the keys the source's script did not dump.
  const assumed = opts.assumeAbsent
    ? sourceAnswering.then((answers) => answers.map((a) => a.prefetched !== undefined))
    : undefined;
  const targetTypes = assumed
    ? assumed.then(async (skip) => {
        const asked = targetKeys.filter((_, i) => !skip[i]);
        const types = await askTypes(target, asked);
        let n = 0;
        return skip.map((skipped) => (skipped ? typeList(null) : types[n++]!));
      })
    : askTypes(target, targetKeys);
  // A dry run asks the earlier sources about every key, at once: the target does not show what they
  // would have written. In a real run it does, and a key the target lacks has no earlier holder, so
  // only the keys the target holds are asked about (once the target has answered).
  const holders = dryRun
    ? Promise.all(earlierSources.map((view) => askHolder(view, targetKeys, () => true)))
    : targetTypes.then((types) =>
        Promise.all(earlierSources.map((view) => askHolder(view, targetKeys, (i) => types[i]!.length > 0))),
      );
  const [sourceAnswers, targetTypeList, holderTypes, skipped] = await Promise.all([
    sourceAnswering,
    targetTypes,
    holders,
    assumed,
  ]);

  const probes: KeyProbe[] = [];
  // Indexed loops: in this per-key code, array iterators were a tenth of a copy's garbage.
  for (let i = 0; i < units.length; i++) {
    const unit = units[i]!;
    const { types: held, memory, prefetched } = sourceAnswers[i]!;
    // A unit that names its type is about that type only: gone if the name no longer holds it.
    const types: readonly (DataType | null)[] =
      'type' in unit
        ? held.includes(unit.type)
          ? typeList(unit.type)
          : GONE
        : held.length > 0
          ? held
          : GONE;
    // Shared lists, not one per key (most keys have no earlier holder): only read from here on.
    let earlier: readonly DataType[] = typeList(null);
    let earlierHolders = 0;
    for (let v = 0; v < holderTypes.length; v++) {
      const typesHeld = holderTypes[v]![i];
      if (typesHeld && typesHeld.length > 0) {
        earlier = earlierHolders === 0 ? typesHeld : [...earlier, ...typesHeld];
        earlierHolders++;
      }
    }
    const onTarget = targetTypeList[i]!;
    for (let t = 0; t < types.length; t++) {
      const type = types[t] as DataType | null;
      const targetType = targetMulti
        ? type !== null && onTarget.includes(type)
          ? type
          : null
        : (onTarget[0] ?? null);
      probes.push({
        sourceKey: unit.key,
        targetKey: targetKeys[i]!,
        type,
        targetType,
        targetTypes: onTarget,
        sourceTypes: held,
        earlier,
        earlierHolders,
        memory,
        ifHeld: unit.ifHeld,
        prefetched,
        targetAssumed: skipped?.[i] === true ? true : undefined,
      });
    }
  }
  return probes;
}

/**
 * The source's types of each key, its MEMORY USAGE (`withMemory`: to find big keys before reading
 * them) and, by script, the PTTL and payload of keys of at most `dumpBelow` bytes.
 */
async function askSource(
  source: ProbeSide,
  keys: readonly Buffer[],
  withMemory: boolean,
  dumpBelow: number,
): Promise<SourceAnswer[]> {
  if (source.answers) return source.answers(keys, dumpBelow);
  if (source.caps.batchScripts && keys.length > 0) {
    const sentAt = now();
    const [reply] = await source.pipe.send([probeAndDumpCommand(keys, withMemory, dumpBelow)]);
    if (Array.isArray(reply)) {
      return keys.map((_, i) => {
        const at = i * PROBE_REPLIES_PER_KEY;
        const memory = reply[at + 1];
        const pttl = reply[at + 2];
        const payload = reply[at + 3];
        // A dumped key's type is its payload's (nil in the type's place): the script did not ask TYPE.
        const named = reply[at] === null && Buffer.isBuffer(payload) ? payloadType(payload) : undefined;
        const type = named ?? typeFromReply(value(reply[at]));
        return {
          types: typeList(type),
          memory: typeof memory === 'number' ? memory : undefined,
          prefetched:
            typeof pttl === 'number'
              ? { pttl, payload: Buffer.isBuffer(payload) ? payload : null, sentAt }
              : undefined,
        };
      });
    }
    scriptRefused(source, reply);
  }
  const per = typeAskCount(source.caps) + (withMemory ? 1 : 0);
  const asks: Command[] = [];
  for (const key of keys) {
    asks.push(...typeAsks(source.caps, key));
    if (withMemory) asks.push(['MEMORY', 'USAGE', key, 'SAMPLES', 5]);
  }
  const replies = await source.pipe.send(asks);
  return keys.map((_, i) => {
    const at = i * per;
    // Denied (a restricted user): the size is then learned from element counts.
    const bytes = withMemory ? replies[at + per - 1] : undefined;
    return {
      types: typesFrom(source.caps, replies, at),
      memory: typeof bytes === 'number' ? bytes : undefined,
    };
  });
}

/** The types each key holds on `side`: one script for the batch where it can, else asked key by key. */
export async function askTypes(side: ProbeSide, keys: readonly Buffer[]): Promise<(readonly DataType[])[]> {
  if (keys.length === 0) return [];
  if (side.caps.batchScripts) {
    const [reply] = await side.pipe.send([typesCommand(keys)]);
    if (Array.isArray(reply)) return keys.map((_, i) => typeList(typeFromReply(value(reply[i]))));
    scriptRefused(side, reply);
  }
  const per = typeAskCount(side.caps);
  const replies = await side.pipe.send(keys.flatMap((key) => typeAsks(side.caps, key)));
  return keys.map((_, i) => typesFrom(side.caps, replies, i * per));
}

/**
 * A batch script was refused (a command inside it that this user may not run, a server that
 * disabled scripting): the side is asked key by key from now on, as where scripts never worked.
 */
function scriptRefused(side: ProbeSide, reply: Reply | undefined): void {
  if (!(reply instanceof Error) && reply !== undefined)
    throw new Error('internal: unexpected batch script reply');
  side.caps.batchScripts = false;
}

/** The types under which `view` holds each target key (undefined where it cannot or was not asked). */
async function askHolder(
  view: HolderView,
  targetKeys: readonly Buffer[],
  wanted: (i: number) => boolean,
): Promise<(readonly DataType[] | undefined)[]> {
  const result: (readonly DataType[] | undefined)[] = new Array(targetKeys.length);
  const asked: number[] = [];
  const keys: Buffer[] = [];
  // Without a prefix (most plans) the target key is the source key: no view of it per key and source.
  const unprefixed = view.prefix.length === 0;
  for (let i = 0; i < targetKeys.length; i++) {
    const targetKey = targetKeys[i]!;
    if (!wanted(i) || !(unprefixed || startsWith(targetKey, view.prefix))) continue;
    const key = unprefixed ? targetKey : targetKey.subarray(view.prefix.length);
    if (view.match && !globMatch(view.match, key)) continue;
    keys.push(key);
    asked.push(i);
  }
  // Only the keys the view's walk took (all of them, while it has not walked).
  const walked = view.walked?.();
  const took = new Uint8Array(keys.length);
  if (walked) walked.hasMany(keys, took);
  else took.fill(1);
  const heldKeys = walked ? keys.filter((_, n) => took[n] === 1) : keys;
  const types = view.types ? await view.types(heldKeys) : await askTypes(view, heldKeys);
  let n = 0;
  for (let k = 0; k < asked.length; k++) if (took[k] === 1) result[asked[k]!] = types[n++];
  return result;
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
