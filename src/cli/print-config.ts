import { stringify } from 'yaml';
import { loadPlan } from '../config/load.js';
import { planToDoc } from '../config/plan-doc.js';
import { EXIT } from './exit-codes.js';
import type { MergeFlags } from './options.js';
import type { Output } from './output.js';

/**
 * `--print-config`: the plan that flags, environment, config file and defaults make, as YAML that
 * `--config` reads back (SPEC §4). Opens no connection: it is how to check a configuration before a run.
 */
export async function printConfigCommand(flags: MergeFlags, out: Output): Promise<number> {
  // Known before the plan exists, so that even a loader message cannot print these passwords.
  const { source = [], target } = flags.overrides;
  out.addUrls([...source, ...(target ? [target] : [])]);
  const plan = await loadPlan(flags.overrides);
  out.addUrls([...plan.sources.map((s) => s.url), plan.target.url]);
  const extra = [...(plan.safety.noBackup ? ['--no-backup'] : []), ...(plan.safety.again ? ['--again'] : [])];
  const header = [
    '# kvmerge --print-config: the effective plan, every default filled in (read it back with -c FILE).',
    '# Passwords show as ***: give them through KVMERGE_TARGET_PASSWORD, KVMERGE_SOURCE_<N>_PASSWORD or',
    "# REDISCLI_AUTH (the first two win over a URL's own), or write them back in.",
    ...(extra.length > 0 ? [`# Not expressible here, given on the command line: ${extra.join(' ')}`] : []),
  ];
  // Masked once more as a whole: the last line of defence of Output applies to results too.
  out.result(out.redact(`${header.join('\n')}\n${stringify(planToDoc(plan), { lineWidth: 0 })}`));
  return EXIT.done;
}
