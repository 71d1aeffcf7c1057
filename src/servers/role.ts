import type { Reply } from './resp.js';

/** What a ROLE reply says about a master's replicas: `master`, offset, [[ip, port, acknowledged offset], …]. */

/**
 * The replicas that a master's ROLE reply lists (`master`, offset, [[ip, port, offset], …]); an Error
 * when this server must not be used as the master (it is a replica now: a demoted master keeps
 * accepting connections); undefined when ROLE was refused or is unknown there. ROLE is in @admin, which
 * a read-only source user seldom has: a source is then read without the check (a demoted master holds
 * the same data), while a target's user was required to have it (permissions.ts) before the run.
 */
export function replicasFromRole(reply: Reply | undefined, where: string): number | Error | undefined {
  if (reply instanceof Error) return undefined;
  const role = Array.isArray(reply) && Buffer.isBuffer(reply[0]) ? reply[0].toString() : undefined;
  if (role !== 'master') {
    return new Error(`${where} is not the master (ROLE says ${role ?? 'nothing'}); a failover is under way`);
  }
  const replicas = (reply as Reply[])[2];
  return Array.isArray(replicas) ? replicas.length : 0;
}

/**
 * How many replicas have acknowledged everything the master holds (their offset at least the master's):
 * replicas acknowledge about once a second. Undefined when the server is not a master (any more).
 */
export function replicasCaughtUp(reply: Reply | undefined): number | undefined {
  if (!Array.isArray(reply) || String(reply[0]) !== 'master') return undefined;
  const offset = Number(reply[1]);
  const replicas = reply[2];
  return Array.isArray(replicas)
    ? replicas.filter((r) => Array.isArray(r) && Number(String(r[2])) >= offset).length
    : 0;
}
