import type { Outcome, StartUp } from './contenders.js';

/**
 * The "separate hosts" projection: the wall time a contender would take where kvmerge, each source
 * and the target had cores of their own, read off the CPU each process used in the same run.
 *
 * On the bench's machine every process shares two cores, so the wall time says how much CPU the
 * whole copy takes, not how fast it goes where the servers are other hosts (the usual case). There:
 * - kvmerge reads the sources one after another (SPEC §1.2), and while it reads source i the source,
 *   kvmerge and the target work side by side on pipelined batches: that stretch takes as long as the
 *   busiest of the three, max(kvmerge's CPU for source i's keys, source i's CPU, the target's CPU for
 *   them; on a cluster, its busiest master's). kvmerge's start-up (measureStartup) comes before.
 * - MIGRATE is synchronous: the source dumps a batch, sends it and waits while the target restores
 *   it, so the source's CPU and the target's add up, batch after batch, on any number of hosts.
 * Both leave out the network's own time (the same bytes cross it either way) and assume each
 * process's CPU per key is what it was here.
 */
export interface Projection {
  label: string;
  wallS: number;
  keysPerS: number;
  /** How the figure was made, per key. */
  detail: string;
}

const micro = (seconds: number, keys: number): string => `${((seconds / keys) * 1e6).toFixed(1)}`;

/** The projection of one contender, or undefined where the run lacks a figure it needs. */
export function separateHosts(
  o: Outcome,
  keysPerSource: readonly number[],
  startup: StartUp | undefined,
): Projection | undefined {
  const cpu = o.cpu;
  if (!cpu || o.error || cpu.sources.length !== keysPerSource.length) return undefined;
  const keys = keysPerSource.reduce((a, b) => a + b, 0);
  if (keys === 0) return undefined;
  // The target's busiest master sets its pace; its CPU is shared out over the sources by their keys.
  const target = Math.max(...cpu.target);
  const sourceText = cpu.sources.map((s, i) => micro(s, keysPerSource[i]!)).join(', ');
  let wallS: number;
  let detail: string;
  if (o.name === 'migrate') {
    wallS = cpu.sources.reduce((sum, s, i) => sum + s + (target * keysPerSource[i]!) / keys, 0);
    detail = `sources ${sourceText} µs/key + target ${micro(target, keys)} µs/key, one waiting for the other`;
  } else if (o.name === 'ceiling') {
    return undefined;
  } else {
    // The bare copy's node start-up (a few hundredths of a second) stays inside its CPU per key.
    const start = o.name === 'bare' ? { cpuS: 0, wallS: 0 } : startup;
    if (cpu.client === undefined || !start) return undefined;
    const client = Math.max(0, cpu.client - start.cpuS);
    const phases = cpu.sources.map((s, i) => {
      const share = keysPerSource[i]! / keys;
      return Math.max(client * share, s, target * share);
    });
    wallS = start.wallS + phases.reduce((a, b) => a + b, 0);
    const who = o.name === 'bare' ? 'client' : 'kvmerge';
    detail =
      `max(${who} ${micro(client, keys)}, source ${sourceText}, target ${micro(target, keys)} µs/key)` +
      ` per source, after ${start.wallS.toFixed(2)} s of start-up`;
  }
  return { label: o.label, wallS, keysPerS: keys / wallS, detail };
}

/** The projection's lines for the bench's output: every contender it applies to, × MIGRATE's. */
export function projectionLines(
  outcomes: readonly Outcome[],
  keysPerSource: readonly number[],
  startup: StartUp | undefined,
): string[] {
  const rows = outcomes.flatMap((o) => separateHosts(o, keysPerSource, startup) ?? []);
  if (rows.length === 0) return [];
  const migrate = rows.find((r) => r.label === outcomes.find((o) => o.name === 'migrate')?.label);
  const width = Math.max(...rows.map((r) => r.label.length));
  return [
    'projected on separate hosts (each process on cores of its own, its CPU per key as measured here;',
    `kvmerge's start-up: ${startup ? `${startup.cpuS.toFixed(2)} s CPU, ${startup.wallS.toFixed(2)} s wall, measured over empty databases` : 'not measured'}):`,
    ...rows.map((r) => {
      const ratio = migrate ? `  ${(r.keysPerS / migrate.keysPerS).toFixed(2)}× MIGRATE` : '';
      return `  ${r.label.padEnd(width)}  ${r.wallS.toFixed(2)} s  ${Math.round(r.keysPerS).toLocaleString('en-US')} keys/s${ratio}  [${r.detail}]`;
    }),
    '',
  ];
}
