import type { MergePlan, TlsPlan } from './plan.js';
import { CONFIG_DEFAULTS } from './schema.js';
import { redactUrl } from './url.js';

/**
 * A plan written back as a configuration document (SPEC §3.1), every setting spelt out: what
 * `--print-config` shows, and what `--config` reads back to the same plan. Passwords are masked (`***`);
 * one given apart from the URL (KVMERGE_TARGET_PASSWORD, …) wins over the mask when it is read back.
 * What a config file cannot say (--no-backup, --again) is not in it.
 */
export function planToDoc(plan: MergePlan): Record<string, unknown> {
  const { strategies: s } = plan;
  return {
    version: 1,
    sources: plan.sources.map((src) => ({
      url: redactUrl(src.url),
      name: src.name,
      ...(src.match !== undefined ? { match: src.match } : {}),
      prefix: src.prefix.toString('utf8'),
      ...(src.tls ? { tls: tlsDoc(src.tls) } : {}),
    })),
    target: { url: redactUrl(plan.target.url), ...(plan.target.tls ? { tls: tlsDoc(plan.target.tls) } : {}) },
    // `other` (module types) is what `default` gives them; a `merge` default gives them `skip`, which is
    // the same as a `skip` default once every type is named.
    strategies: {
      default: s.other,
      string: s.string,
      hash: s.hash,
      set: s.set,
      zset: s.zset,
      list: s.list,
      stream: s.stream,
    },
    typeMismatch: s.typeMismatch,
    merge: { ...plan.merge },
    write: { ...plan.write },
    report: {
      ...(plan.report.file !== undefined ? { file: plan.report.file } : {}),
      sample: plan.report.sample,
    },
    safety: {
      onError: plan.safety.onError,
      ...(plan.safety.failedKeys !== undefined ? { failedKeys: plan.safety.failedKeys } : {}),
      ...(plan.safety.backup !== undefined ? { backup: plan.safety.backup } : {}),
      resume: plan.safety.resume,
    },
    network: { ...plan.network },
    follow: plan.follow
      ? {
          enabled: true,
          untilCaughtUp: plan.follow.untilCaughtUp,
          intervalSeconds: plan.follow.intervalMs / 1000,
          maxPending: plan.follow.maxPending,
          setNotifyConfig: plan.follow.setNotifyConfig,
        }
      : { ...CONFIG_DEFAULTS.follow },
    // 0: no cap, as in the file.
    throttle: { rate: plan.throttle.rate ?? 0, maxSourceLatencyMs: plan.throttle.maxSourceLatencyMs ?? 0 },
    dryRun: plan.dryRun,
    failOnConflict: plan.failOnConflict,
  };
}

function tlsDoc(tls: TlsPlan): Record<string, unknown> {
  return {
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    insecure: tls.insecure,
  };
}
