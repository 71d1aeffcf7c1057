import { lifetimeOf, targetTime } from '../journal/expiry.js';
import { WINDOW_BYTES } from '../run/big.js';
import { now } from '../servers/clock.js';
import type { Command } from '../servers/resp.js';
import type { DataType, NativeType } from '../types/strategy.js';
import type { Held } from '../types/verify.js';
import { WINDOWS } from '../types/windows.js';
import { asRecipe, checkBig, foldRecipes } from '../verify/big.js';
import type { Observed, Outcome } from '../verify/expect.js';
import { TEMP_TTL_MS } from '../write/temp-keys.js';
import type { RefoldEnv } from './refold-env.js';

/**
 * Folds one big key again (SPEC §9.1, §2.3): compared with the target in windows first (verify's
 * checkBig); where it differs, the fold is built under a temporary key in the key's slot, a window at
 * a time, and RENAMEd over the key with its lifetime in one MULTI/EXEC, so that a reader sees the old
 * value or the new one, never a mix, and memory holds a window, never the value. The build starts
 * from nothing each time (its first command deletes the temporary key), so a build cut short by a
 * drop is simply made again; windows are sent without resend for the same reason (a list's RPUSH
 * sent twice would be in the build twice).
 *
 * The fold's value is its Recipe (verify/big.ts): a base (the prior, or the last source that created
 * or overrode the key) and the values merged into it in order, each merged window by window with the
 * type's own merge (types/windows.ts), a zset `sum` through a second temporary key and one ZUNIONSTORE.
 */

export type BigRefold =
  | { status: 'same' | 'written' | 'deleted' }
  /** Not folded: why (named in the log, counted failed). */
  | { status: 'failed'; reason: string };

export async function refoldBig(
  env: RefoldEnv,
  key: Buffer,
  starts: Outcome[],
  holders: Observed[],
  found: Observed | null,
): Promise<BigRefold> {
  if (starts.length !== 1) return failed('its prior state cannot be read from the journal');
  const readAt = now();
  if (!(await checkBig(starts, holders, found, env.rules))) return { status: 'same' };
  const [outcome] = foldRecipes(starts, holders, env.rules);
  if (!outcome) return failed('its fold has no outcome');
  const why = cannotBuild(outcome, env);
  if (why) return failed(why);
  // The first write to the key: its prior (read by the journal, a big one in windows) is made durable first.
  if (!env.priors.has(key)) {
    const type: DataType = found?.type ?? (outcome.kind === 'absent' ? 'string' : outcome.type);
    await env.door?.before([{ name: key, type }]);
    env.priors.journaled(key);
  }
  const pipe = env.target.pipe;
  if (outcome.kind === 'absent') {
    await pipe.send([['DEL', key]]);
    return { status: 'deleted' };
  }
  const exact = outcome as Extract<Outcome, { kind: 'exact' }>;
  const type = exact.type as NativeType;
  const recipe = asRecipe(exact.value);
  const tmp = env.temp.create(key);
  const made: Buffer[] = [tmp];
  try {
    await env.door?.temp(tmp);
    await build(env, type, tmp, recipe.base);
    for (const merged of recipe.merged) {
      const aside = WINDOWS[type].mergeAside;
      if (aside?.wanted(env.plan.merge)) {
        const other = env.temp.create(key);
        made.push(other);
        await env.door?.temp(other);
        await build(env, type, other, merged);
        await send(env, [aside.fold(tmp, other), ['DEL', other]]);
      } else await mergeInto(env, type, tmp, merged);
    }
    const lifetime: Command =
      exact.ttl === null || exact.ttl === 'unknown'
        ? ['PERSIST', key]
        : lifetimeOf(
            key,
            targetTime(env.clock, readAt) + exact.ttl,
            env.target.caps,
            env.clock,
            targetTime(env.clock),
          );
    await send(env, [['MULTI'], ['RENAME', tmp, key], lifetime, ['EXEC']]);
    return { status: 'written' };
  } finally {
    // Whatever is left of the build (an error on the way): deleted, and no longer the run's to clean up.
    await pipe.send(made.map((k) => ['DEL', k])).catch(() => undefined);
    for (const k of made) env.temp.release(k);
  }
}

const failed = (reason: string): BigRefold => ({ status: 'failed', reason });

/** Why this fold cannot be built aside on this target, or undefined. */
function cannotBuild(outcome: Outcome, env: RefoldEnv): string | undefined {
  if (outcome.kind === 'absent') return undefined;
  if (outcome.kind !== 'exact' || outcome.ttl === 'unknown') return 'its fold depends on an unknown prior';
  if (outcome.type === 'other') return 'a module type is not folded again during a follow';
  if (!env.target.caps.rename)
    return 'the target has no RENAME (Pika): a big key cannot be replaced in one step';
  const recipe = asRecipe(outcome.value);
  if (recipe.merged.length > 0 && WINDOWS[outcome.type].merge === undefined) {
    return `a big ${outcome.type} cannot be merged`;
  }
  if (recipe.merged.length > 0 && outcome.type === 'list' && env.plan.merge.list === 'prepend') {
    return 'a big list merged by prepend is not folded again during a follow';
  }
  return undefined;
}

/** Writes `value` into the temporary key `tmp`, from nothing, window by window, with the temporary key's lease. */
async function build(env: RefoldEnv, type: NativeType, tmp: Buffer, value: Held): Promise<void> {
  await send(env, [['DEL', tmp]]);
  for await (const window of value.windows()) {
    const commands = WINDOWS[type].write(tmp, window as Buffer[], env.target.caps);
    await send(env, [...commands, ['PEXPIRE', tmp, TEMP_TTL_MS]]);
  }
}

/** Merges `value` into the temporary key window by window, with the type's merge (SPEC §1.4). */
async function mergeInto(env: RefoldEnv, type: NativeType, tmp: Buffer, value: Held): Promise<void> {
  const merge = await WINDOWS[type].merge!({
    target: env.target.pipe,
    key: tmp,
    opts: env.plan.merge,
    dialect: env.target.caps,
    windowBytes: WINDOW_BYTES,
  });
  for await (const window of value.windows()) {
    await send(env, [...(await merge.commands(window as Buffer[])), ['PEXPIRE', tmp, TEMP_TTL_MS]]);
  }
}

/** Sends without resend (a window pushed twice would be in the build twice); an error reply throws. */
async function send(env: RefoldEnv, commands: Command[]): Promise<void> {
  const replies = await env.target.pipe.send(commands, { resend: false });
  const error = replies.flat().find((r) => r instanceof Error);
  if (error) throw error;
}
