import type { MergePlan } from '../config/plan.js';
import type { WindowLoader } from '../journal/reader.js';
import type { TargetClock } from '../servers/clock.js';
import type { Rules } from '../verify/expect.js';
import type { Side } from '../verify/sides.js';
import type { WriteDoor } from '../write/door.js';
import type { TempKeys } from '../write/temp-keys.js';
import type { FollowPriors } from './priors.js';

/** What folding keys again works with: the run's plan, its servers, its journal and the fold's rules. */
export interface RefoldEnv {
  plan: MergePlan;
  target: Side;
  sources: Side[];
  rules: Rules;
  clock: TargetClock;
  priors: FollowPriors;
  /** The journal's door for the follow's writes (absent with --no-backup, which a follow refuses). */
  door?: WriteDoor;
  windows?: WindowLoader;
  /** Where a big key's fold is built before it is renamed over the key (refold-big.ts). */
  temp: TempKeys;
}
