// The shape of a server's address that config/ (which parses URLs into it) and servers/ (which
// connects to it) share; neither imports the other.

/** One Redis database as named by a `redis://` or `rediss://` URL, with credentials decoded. */
export interface RedisEndpoint {
  /** Host name (lower case) or IP address; an IPv6 address is stored without its brackets. */
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** `rediss://`: connect over TLS. */
  tls: boolean;
  /**
   * `redis+sentinel://`: the master is found through these sentinels, and `host`/`port` are the first
   * sentinel's (the master's address is known only at connect time, and changes on a failover).
   */
  sentinel?: SentinelSpec;
}

/** A master set watched by Sentinel, as a `redis+sentinel://` URL names it. */
export interface SentinelSpec {
  /** The sentinels to ask, in the URL's order (at least one). */
  nodes: { host: string; port: number }[];
  /** The master set's name (`sentinel monitor <name> …`). */
  name: string;
  /** The sentinels' own credentials (`?sentinelUsername=…&sentinelPassword=…`), when they have any. */
  username?: string;
  password?: string;
}

/** What a password shows as in output. */
export const MASK = '***';

/** `host:port/db`, with brackets around an IPv6 address: the default name of a source. */
export function endpointLabel(e: RedisEndpoint): string {
  if (e.sentinel) {
    const nodes = e.sentinel.nodes.map((n) => hostPort(n.host, n.port)).join(',');
    return `${nodes}/${e.sentinel.name}/${e.db}`;
  }
  return `${hostPort(e.host, e.port)}/${e.db}`;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The endpoint as a URL fit for output: `redis://user:***@host:port/db` (port and db spelt out, host in
 * lower case); passwords never show.
 */
export function endpointText(e: RedisEndpoint): string {
  const scheme = e.sentinel ? 'redis+sentinel' : e.tls ? 'rediss' : 'redis';
  const user = e.username === undefined ? '' : encodeURIComponent(e.username);
  const userinfo = e.password !== undefined ? `${user}:${MASK}@` : user !== '' ? `${user}@` : '';
  const query: string[] = [];
  if (e.sentinel?.username !== undefined)
    query.push(`sentinelUsername=${encodeURIComponent(e.sentinel.username)}`);
  if (e.sentinel?.password !== undefined) query.push(`sentinelPassword=${MASK}`);
  return `${scheme}://${userinfo}${endpointLabel(e)}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
