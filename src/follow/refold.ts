import { targetTime } from '../journal/expiry.js';
import { restoreCommands } from '../journal/prior.js';
import type { PriorState } from '../journal/types.js';
import { now, type TargetClock } from '../servers/clock.js';
import { afterUnconfirmed, sendAndWait } from '../servers/confirm.js';
import type { Command } from '../servers/resp.js';
import type { NativeType } from '../types/strategy.js';
import { type Checker, checkKeys } from '../verify/check.js';
import { matches, type Observed, type Outcome } from '../verify/expect.js';
import type { StepKey } from '../write/door.js';
import { refoldBig } from './refold-big.js';
import type { RefoldEnv } from './refold-env.js';

export type { RefoldEnv } from './refold-env.js';

/**
 * Folds changed keys again (SPEC §9.1): each key's value is computed from the sources' values now and
 * its prior, exactly as verify computes what the target should hold (verify/check.ts: the same reads,
 * the same fold), and where the target differs, the result is written in one atomic, idempotent step
 * (journal/prior.ts restoreCommands: DEL, the type's writes and the expiry in one MULTI/EXEC; DEL for
 * a key the fold leaves absent). Idempotent: a key folded twice, or a change seen twice, writes the
 * same value, so a write whose reply a drop lost is simply sent again. A key's first write is
 * journaled first (its prior: the target's value then), like every write of the run.
 */

export interface Refolded {
  /** Keys whose fold was compared with the target. */
  checked: number;
  /** Keys written (their value replaced) and deleted. */
  written: number;
  deleted: number;
  /** Keys that could not be folded again, and why (they are not retried by themselves). */
  failed: { key: Buffer; reason: string }[];
  /** Keys whose write a failover may have lost (WAIT did not confirm it): to be folded again. */
  again: Buffer[];
}

interface Write {
  key: Buffer;
  outcome: Outcome;
  found: Observed | null;
}

/** Folds `keys` (target keys) again: reads them everywhere, writes those that differ. */
export async function refoldKeys(env: RefoldEnv, keys: Buffer[]): Promise<Refolded> {
  const result: Refolded = { checked: 0, written: 0, deleted: 0, failed: [], again: [] };
  const writes: Write[] = [];
  // Read before the values: a lifetime read then is counted down from here, never lengthened.
  const readAt = now();
  const checker: Checker = {
    plan: env.plan,
    target: env.target,
    sources: env.sources,
    rules: env.rules,
    windows: env.windows,
    record(key, outcomes, found) {
      result.checked++;
      const outcome = outcomes[0];
      if (outcomes.length !== 1 || !outcome) {
        result.failed.push({ key, reason: 'its prior state cannot be read from the journal' });
        return;
      }
      if (!matches(found, outcome, env.rules)) writes.push({ key, outcome, found });
    },
    recordBig() {},
    async big(key, starts, holders, found) {
      result.checked++;
      const big = await refoldBig(env, key, starts, holders, found);
      if (big.status === 'failed') result.failed.push({ key, reason: big.reason });
      else if (big.status === 'written') result.written++;
      else if (big.status === 'deleted') result.deleted++;
    },
    priorUnused() {},
    exact() {},
    batchDone() {},
  };
  await checkKeys(checker, keys, {
    priorOf: (key, found) => env.priors.priorOf(key, found, env.windows),
  });
  if (writes.length === 0) return result;

  // A key's first write: its prior (the target's value now) is journaled and durable before it is sent.
  // Only these are journaled (and settled by `applied`): a key's later folds start from the same prior,
  // and a fold cut short is simply made again, so they need no record of their own.
  const first = writes.filter((w) => !env.priors.has(w.key));
  const steps: StepKey[] = first.map((w) => ({
    name: w.key,
    type: w.found?.type ?? (w.outcome.kind === 'absent' ? 'string' : w.outcome.type),
  }));
  await env.door?.before(steps);
  for (const w of first) env.priors.remember(w.key, w.found);

  const units: { write: Write; commands: Command[] }[] = [];
  for (const write of writes) {
    const state = stateOf(write.outcome, env.clock, readAt);
    if (typeof state === 'string') result.failed.push({ key: write.key, reason: state });
    else
      units.push({ write, commands: unitOf(restoreCommands(write.key, state, env.target.caps, env.clock)) });
  }
  const commands = units.flatMap((u) => u.commands);
  const pipe = env.target.pipe;
  if (pipe.failover && commands.length > 0) {
    // Behind Sentinel a write counts once WAIT has it on the replicas (SPEC §6.6); unconfirmed, the
    // keys are folded again (idempotent) on the master of the moment.
    if (!(await sendAndWait(pipe, commands))) {
      await afterUnconfirmed(pipe);
      result.again.push(...units.map((u) => u.write.key));
      return result;
    }
    for (const { write } of units) {
      if (write.outcome.kind === 'absent') result.deleted++;
      else result.written++;
    }
    env.door?.applied(steps);
    return result;
  }
  const replies = await pipe.send(commands);
  let at = 0;
  for (const { write, commands } of units) {
    const own = replies.slice(at, at + commands.length);
    at += commands.length;
    const error = own.flat().find((r) => r instanceof Error) ?? execAborted(own);
    if (error)
      result.failed.push({ key: write.key, reason: `the target refused the write: ${error.message}` });
    else if (write.outcome.kind === 'absent') result.deleted++;
    else result.written++;
  }
  env.door?.applied(steps);
  return result;
}

/**
 * The state a fold's outcome puts the key in, as a journal prior (what restoreCommands writes), or
 * why it cannot be written natively.
 */
function stateOf(outcome: Outcome, clock: TargetClock, readAt: number): PriorState | string {
  if (outcome.kind === 'absent') return { kind: 'absent' };
  if (outcome.kind !== 'exact' || outcome.ttl === 'unknown') return 'its fold depends on an unknown prior';
  if (outcome.type === 'other') return 'a module type is not folded again during a follow';
  const expireAt = outcome.ttl === null ? null : targetTime(clock, readAt) + outcome.ttl;
  return { kind: 'native', type: outcome.type as NativeType, value: outcome.value, expireAt };
}

function unitOf(planned: { commands: Command[]; transaction: boolean }): Command[] {
  return planned.transaction ? [['MULTI'], ...planned.commands, ['EXEC']] : planned.commands;
}

/** An EXEC whose reply is null was aborted (a WATCH) — never expected here, but never counted written. */
function execAborted(replies: unknown[]): Error | undefined {
  return replies.length > 1 && replies[replies.length - 1] === null ? new Error('EXEC aborted') : undefined;
}
