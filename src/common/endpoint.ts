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
