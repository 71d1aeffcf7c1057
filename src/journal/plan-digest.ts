import { createHash } from 'node:crypto';
import type { MergePlan } from '../config/plan.js';
import { redactUrl, sourceId } from '../config/url.js';
import type { JournalHeader, JournalPlan } from './types.js';

/**
 * What decides the fold's result (SPEC §1): sources in order with their matches and prefixes, the
 * strategies and the merge options. Tuning (mode, concurrency, batch) does not change the result, so
 * a resume may change it. A source is its database (host, port, db: databaseId), so another spelling
 * of its host or another user is the same plan; the journal never holds a password.
 */
export function planDigest(plan: MergePlan, source: (url: string) => string = sourceId): string {
  const fold = {
    sources: plan.sources.map((s) => ({
      url: source(s.url),
      match: s.match ?? null,
      prefix: s.prefix.toString('hex'),
    })),
    strategies: plan.strategies,
    merge: plan.merge,
  };
  return createHash('sha256').update(JSON.stringify(fold)).digest('hex');
}

/**
 * Whether a journal records this plan: its digest, or the digest of kvmerge 0.1's first journals,
 * which named each source by its redacted URL as written.
 */
export function isPlanOf(header: JournalHeader, plan: MergePlan): boolean {
  return header.planDigest === planDigest(plan) || header.planDigest === planDigest(plan, redactUrl);
}

/** The plan as the journal's header keeps it for `status` (types.ts JournalPlan): nothing secret. */
export function planRecord(plan: MergePlan): JournalPlan {
  return {
    sources: plan.sources.map((s) => ({
      name: s.name,
      url: redactUrl(s.url),
      ...(s.match !== undefined ? { match: s.match } : {}),
      ...(s.prefix.length > 0 ? { prefix: s.prefix.toString('utf8') } : {}),
    })),
    strategies: { ...plan.strategies },
    merge: { ...plan.merge },
  };
}
