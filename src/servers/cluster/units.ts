import type { RedisEndpoint } from '../../common/endpoint.js';
import { replyIs, slotRedirect } from '../errors/classify.js';
import type { Command, Reply } from '../resp.js';
import { keySlot } from './slot.js';

// How the cluster transport cuts a command list into units, and reads a unit's replies for redirections.

/** A slice of the command list that goes to one node as a whole: one command, or MULTI … EXEC. */
export interface Unit {
  start: number;
  end: number;
  slot: number;
  /** An ASK redirection: the next attempt goes to this node, preceded by ASKING. */
  ask?: string;
  redirects: number;
}

/** One node of a cluster: the seed's endpoint (credentials, TLS) pointed at `host:port`. */
export function nodeEndpoint(seed: RedisEndpoint, host: string, port: number): RedisEndpoint {
  return { ...seed, host: host.toLowerCase(), port };
}

/** Cuts a command list into units: MULTI … EXEC together, every other command alone. */
export function cut(commands: readonly Command[]): Unit[] {
  const units: Unit[] = [];
  for (let i = 0; i < commands.length; i++) {
    const start = i;
    let keyed = commands[i]!;
    if (isCommand(keyed, 'MULTI')) {
      while (i < commands.length - 1 && !isCommand(commands[i]!, 'EXEC')) i++;
      keyed = commands[start + 1] ?? keyed;
    }
    const key = keyed[keyIndex(keyed)];
    const slot = key === undefined ? 0 : keySlot(Buffer.isBuffer(key) ? key : String(key));
    units.push({ start, end: i + 1, slot, redirects: 0 });
  }
  return units;
}

/** Commands whose argv[1] is a subcommand: their key is argv[2] (MEMORY USAGE key, XGROUP CREATE key …). */
const SUBCOMMANDS = new Set(['MEMORY', 'XINFO', 'XGROUP', 'OBJECT']);

/** Where a command names its key: argv[1], or argv[2] after a subcommand. */
function keyIndex(command: Command): number {
  const name = command[0];
  return name.length <= 6 && SUBCOMMANDS.has(name.toUpperCase()) ? 2 : 1;
}

function isCommand(command: Command, name: string): boolean {
  return command[0].length === name.length && command[0].toUpperCase() === name;
}

type Redirect = { kind: 'MOVED' | 'ASK'; slot: number; addr: string } | { kind: 'WAIT' };

/**
 * Whether a unit's replies say that it did not run on this node, and where to send it. A MULTI unit
 * that was refused at queueing time has its EXEC aborted (EXECABORT): nothing of it ran.
 */
export function redirectOf(replies: Reply[]): Redirect | undefined {
  const last = replies[replies.length - 1];
  if (replies.length > 1 && !(last instanceof Error)) return undefined;
  for (const reply of replies) {
    if (!(reply instanceof Error)) continue;
    const moved = slotRedirect(reply);
    if (moved) return { kind: moved.kind === 'moved' ? 'MOVED' : 'ASK', slot: moved.slot, addr: moved.addr };
    if (replyIs(reply, 'tryagain', 'clusterdown')) return { kind: 'WAIT' };
  }
  return undefined;
}
