import { basename } from 'node:path';
import { ConfigError } from '../common/errors.js';
import type { CheckedFlags } from './flags.js';
import type { SourcePlan, TlsPlan } from './plan.js';
import type { ConfigDoc } from './schema.js';
import { endpointLabel, fileSourceOf, parseRedisUrl, type RedisEndpoint, withPassword } from './url.js';

type TlsDoc = NonNullable<NonNullable<ConfigDoc['target']>['tls']>;

/**
 * A server's TLS settings: each --tls-* flag sets its field for every server, over the file's per-server
 * `tls` (SPEC §3.3). Empty strings mean "not set". Undefined when nothing is set.
 */
export function resolveTls(doc: TlsDoc | undefined, flags: CheckedFlags): TlsPlan | undefined {
  const pick = (flag: string | undefined, own: string | undefined): string | undefined =>
    (flag ?? own) || undefined;
  const tls: TlsPlan = { insecure: flags.tls.insecure ?? doc?.insecure ?? false };
  const ca = pick(flags.tls.ca, doc?.ca);
  const cert = pick(flags.tls.cert, doc?.cert);
  const key = pick(flags.tls.key, doc?.key);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      cert === undefined ? '--tls-cert' : '--tls-key',
      'a client certificate needs both --tls-cert and --tls-key (tls.cert and tls.key)',
    );
  }
  return tls.ca || tls.cert || tls.insecure ? tls : undefined;
}

export interface ResolvedSource {
  plan: SourcePlan;
  /** The server; undefined for an RDB file. */
  endpoint?: RedisEndpoint;
  /** Where the source came from, for error messages. */
  field: string;
}

export function resolveSources(file: ConfigDoc, flags: CheckedFlags): ResolvedSource[] {
  const fromFlags = flags.source !== undefined;
  const entries =
    flags.source?.map((url) => ({ url, prefix: '' }) as NonNullable<ConfigDoc['sources']>[number]) ??
    file.sources ??
    [];
  if (entries.length === 0) {
    throw new ConfigError(
      'sources',
      'no source given; pass -s URL (repeatable) or list sources in a config file (-c FILE)',
    );
  }

  if (flags.prefix !== undefined && flags.prefix.length > entries.length) {
    throw new ConfigError(
      '--prefix',
      `given ${flags.prefix.length} times for ${entries.length} source(s); give at most one per source, in the order of the sources`,
    );
  }

  const extra = flags.passwords.sources?.findIndex((p, i) => p !== undefined && i >= entries.length) ?? -1;
  if (extra >= 0) {
    throw new ConfigError(
      `KVMERGE_SOURCE_${extra + 1}_PASSWORD`,
      `there are ${entries.length} source(s); N in KVMERGE_SOURCE_<N>_PASSWORD counts the sources from 1, in their order`,
    );
  }

  const byName = new Map<string, number>();
  return entries.map((entry, i) => {
    const field = fromFlags ? '--source' : `sources[${i}].url`;
    const rdb = fileSourceOf(entry.url, field);
    const { url, endpoint } = rdb
      ? { url: entry.url, endpoint: undefined }
      : applyPassword(
          entry.url,
          parseRedisUrl(entry.url, field),
          flags.passwords.sources?.[i],
          flags.passwords.fallback,
        );
    const name =
      entry.name ??
      (rdb ? `${basename(rdb.path)}${rdb.db > 0 ? `/${rdb.db}` : ''}` : endpointLabel(endpoint!));
    const earlier = byName.get(name);
    if (earlier !== undefined) {
      // Counted from 1, as a user counts the -s flags or the entries of the list.
      const which = `source ${earlier + 1} and source ${i + 1}`;
      throw new ConfigError(
        fromFlags ? '--source' : `sources[${i}].name`,
        entry.name === undefined && entries[earlier]!.name === undefined
          ? `${which} are the same server (${name}); give each source once`
          : `${which} are both named "${name}"; give each source a distinct name`,
      );
    }
    byName.set(name, i);

    // MATCH * selects every key, like no MATCH; keeping it would only hide that DBSIZE is a valid estimate.
    const match = flags.match ?? entry.match ?? file.match;
    const prefix = flags.prefix?.[i] ?? entry.prefix;
    const plan: SourcePlan = { url, name, prefix: Buffer.from(prefix, 'utf8') };
    const tls = rdb ? undefined : resolveTls(entry.tls, flags);
    if (tls) plan.tls = tls;
    if (rdb) plan.file = rdb;
    if (match !== undefined && match !== '*') plan.match = match;
    return endpoint ? { plan, endpoint, field } : { plan, field };
  });
}

export function resolveTarget(
  file: ConfigDoc,
  flags: CheckedFlags,
): { url: string; endpoint: RedisEndpoint } {
  const url = flags.target ?? file.target?.url;
  if (url === undefined) {
    throw new ConfigError(
      'target',
      'no target given; pass -t URL or set target.url in a config file (-c FILE)',
    );
  }
  const endpoint = parseRedisUrl(url, flags.target !== undefined ? '--target' : 'target.url');
  return applyPassword(url, endpoint, flags.passwords.target, flags.passwords.fallback);
}

/**
 * The server's password: the one given apart from the URL (`KVMERGE_TARGET_PASSWORD`, the most specific
 * statement) over the URL's own, over the fallback for every server (`REDISCLI_AUTH`). The URL is
 * rewritten to carry it, since a plan's URL is what the connection is made with.
 */
function applyPassword(
  url: string,
  endpoint: RedisEndpoint,
  own: string | undefined,
  fallback: string | undefined,
): { url: string; endpoint: RedisEndpoint } {
  const password = own || endpoint.password || fallback || undefined;
  if (password === undefined || password === endpoint.password) return { url, endpoint };
  return { url: withPassword(url, password), endpoint: { ...endpoint, password } };
}
