import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { endpointText, MASK, type RedisEndpoint, type SentinelSpec } from '../common/endpoint.js';
import { ConfigError } from '../common/errors.js';

export { endpointLabel, type RedisEndpoint, type SentinelSpec } from '../common/endpoint.js';

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;
/**
 * The hint of a bad URL. Its placeholders stay clear of what the password masker looks for (`://…:…@`,
 * `?…password=`), which every printed line passes through: spelled as a URL they came out as
 * `user:***@` and a `[?sentinelPassword=***` whose bracket was eaten.
 */
const URL_FORMS =
  'a URL such as redis://localhost:6379 (redis://host[:port][/db], rediss://… for TLS, ' +
  'redis+sentinel://sentinel1[:port],sentinel2[:port]/MASTER-NAME[/db] behind Sentinel; ' +
  "credentials go before the host as user:password@, the sentinels' as the sentinelPassword query parameter; " +
  'a source can also be an RDB file: PATH.rdb or file:///PATH)';

/**
 * Parses `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS).
 *
 * The credentials end at the LAST `@`, so an unencoded `@`, `/`, `?` or `#` in a password still parses;
 * percent-encoded credentials are decoded. Userinfo without a `:` is refused rather than guessed at:
 * redis-cli reads `redis://secret@host` as a password while the URL standard (and ioredis) read it as a
 * user name, and treating a password as a user name would print it. Query strings are refused because
 * nothing here would act on them. Errors are ConfigErrors on `field` and show the URL redacted.
 */
export function parseRedisUrl(url: string, field = 'url'): RedisEndpoint {
  // redactLoosely, not redactUrl: redactUrl parses, and would come back here for a malformed URL.
  const fail: (what: string) => never = (what) => {
    throw new ConfigError(field, `${what} in ${redactLoosely(url)}; expected ${URL_FORMS}`);
  };

  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url);
  if (!schemeMatch) fail('not a Redis URL');
  const scheme = schemeMatch[1]!.toLowerCase();
  let rest = schemeMatch[2]!;
  if (scheme === 'rediss+sentinel')
    fail('TLS through Sentinel is not supported (use redis+sentinel:// on a trusted network)');
  if (scheme !== 'redis' && scheme !== 'rediss' && scheme !== 'redis+sentinel')
    fail(`unsupported scheme "${scheme}://" (accepted: redis, rediss, redis+sentinel)`);

  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon < 0) {
      fail('user information without ":" (for a password alone write :PASSWORD@ before the host)');
    }
    username = decodeCredential(userinfo.slice(0, colon), fail) || undefined;
    password = decodeCredential(userinfo.slice(colon + 1), fail) || undefined;
  }

  if (scheme === 'redis+sentinel') return parseSentinelRest(rest, username, password, fail);
  if (/[?#]/.test(rest)) fail('query or fragment (not supported; put options in the config file)');
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  const { host, port } = parseHostPort(authority, DEFAULT_PORT, fail);
  const endpoint: RedisEndpoint = { host, port, db: parseDb(path, fail), tls: scheme === 'rediss' };
  if (username !== undefined) endpoint.username = username;
  if (password !== undefined) endpoint.password = password;
  return endpoint;
}

/**
 * The part of a `redis+sentinel://` URL after the credentials: `h1[:p1],h2[:p2]/NAME[/db][?query]`.
 * The query may carry the sentinels' own credentials (`sentinelUsername`, `sentinelPassword`): Sentinel
 * has its own `requirepass`/ACL, separate from the master's, and the URL's user information is the
 * master's (what the data is read or written with).
 */
function parseSentinelRest(
  rest: string,
  username: string | undefined,
  password: string | undefined,
  fail: (what: string) => never,
): RedisEndpoint {
  if (rest.includes('#')) fail('fragment (not supported)');
  const question = rest.indexOf('?');
  const query = question < 0 ? '' : rest.slice(question + 1);
  const beforeQuery = question < 0 ? rest : rest.slice(0, question);
  const slash = beforeQuery.indexOf('/');
  if (slash < 0) fail('missing master name (redis+sentinel://sentinel:26379/MASTER-NAME)');
  const nodes = beforeQuery
    .slice(0, slash)
    .split(',')
    .map((part) => parseHostPort(part, DEFAULT_SENTINEL_PORT, fail));
  const [name = '', dbText = '', ...extra] = beforeQuery.slice(slash + 1).split('/');
  if (name === '') fail('missing master name (redis+sentinel://sentinel:26379/MASTER-NAME)');
  if (!/^[A-Za-z0-9._-]+$/.test(name)) fail(`bad master name "${name}"`);
  if (extra.length > 0) fail(`unexpected "/${extra.join('/')}" after the database`);
  const spec: SentinelSpec = { nodes, name };
  for (const pair of query === '' ? [] : query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = decodeCredential(eq < 0 ? '' : pair.slice(eq + 1), fail);
    if (key === 'sentinelPassword') spec.password = value || undefined;
    else if (key === 'sentinelUsername') spec.username = value || undefined;
    else fail(`unknown query parameter "${key}" (accepted: sentinelUsername, sentinelPassword)`);
  }
  if (spec.password === undefined) delete spec.password;
  if (spec.username === undefined) delete spec.username;
  const first = nodes[0]!;
  const endpoint: RedisEndpoint = {
    host: first.host,
    port: first.port,
    db: parseDb(dbText, fail),
    tls: false,
    sentinel: spec,
  };
  if (username !== undefined) endpoint.username = username;
  if (password !== undefined) endpoint.password = password;
  return endpoint;
}

/** `host[:port]` or `[ipv6][:port]`, host in lower case. */
function parseHostPort(
  authority: string,
  defaultPort: number,
  fail: (what: string) => never,
): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) fail('unclosed "[" around an IPv6 address');
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(`unexpected "${after}" after the IPv6 address`);
    if (after !== '') portText = after.slice(1);
    if (!/^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host)) fail(`bad IPv6 address "${host}"`);
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0 && authority.indexOf(':', colon + 1) >= 0) fail('an IPv6 address must be in brackets');
    host = colon < 0 ? authority : authority.slice(0, colon);
    if (colon >= 0) portText = authority.slice(colon + 1);
    if (host === '') fail('missing host');
    if (!/^[A-Za-z0-9._-]+$/.test(host)) fail(`bad host "${host}"`);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) fail(`bad port "${portText}" (accepted: 1-65535)`);
  }
  return { host: host.toLowerCase(), port };
}

function parseDb(path: string, fail: (what: string) => never): number {
  if (path === '') return 0;
  const db = /^\d{1,9}$/.test(path) ? Number(path) : Number.NaN;
  if (Number.isNaN(db)) fail(`bad database "${path}" (accepted: a number >= 0)`);
  return db;
}

function decodeCredential(text: string, fail: (what: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // The text is (part of) a credential: say where the problem is, never what it is.
    return fail('bad percent-encoding in the user name or password');
  }
}

/**
 * The same URL with `password` as its password (and its user name, if any, kept): for a password that
 * was given apart from the URL. The URL must parse (parseRedisUrl) before it comes here.
 */
export function withPassword(url: string, password: string): string {
  const start = url.indexOf('://') + 3;
  const at = url.lastIndexOf('@');
  const userinfo = at >= start ? url.slice(start, at) : '';
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const rest = at >= start ? url.slice(at + 1) : url.slice(start);
  return `${url.slice(0, start)}${user}:${encodeURIComponent(password)}@${rest}`;
}

/**
 * The URL fit for output: `redis://user:***@host:port/db`. A valid URL comes back normalised (port and
 * db spelt out, host in lower case); a URL that does not parse is masked textually, so that whatever
 * sits between `://` and the last `@` after a `:` (or all of it, when there is no `:`) never shows.
 */
export function redactUrl(url: string): string {
  let e: RedisEndpoint;
  try {
    e = parseRedisUrl(url);
  } catch {
    return redactLoosely(url);
  }
  return endpointText(e);
}

function redactLoosely(text: string): string {
  const schemeEnd = text.indexOf('://');
  const start = schemeEnd < 0 ? 0 : schemeEnd + 3;
  const at = text.lastIndexOf('@');
  let out = text;
  if (at >= start) {
    const userinfo = text.slice(start, at);
    const colon = userinfo.indexOf(':');
    const masked = colon < 0 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`;
    out = text.slice(0, start) + masked + text.slice(at);
  }
  return maskQueryPasswords(out);
}

/** `?password=…`, `&sentinelPassword=…` and the like: the value is masked. */
function maskQueryPasswords(text: string): string {
  return text.replace(/([?&;](?:[A-Za-z]*password|pass|pwd|auth)=)[^&#;\s]*/gi, `$1${MASK}`);
}

/**
 * Masks the credentials of every URL-looking substring of a free text (an error message from a
 * library, a YAML snippet). Best effort: a password with white space in it can defeat it, which is why
 * `redactSecrets` with the known passwords is the last step before anything is printed.
 */
export function redactUrlsInText(text: string): string {
  return maskQueryPasswords(text)
    .replace(/(\b[A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s:@/]*):[^\s@]*@/g, `$1$2:${MASK}@`)
    .replace(/(\b[A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s:@/]+@/g, `$1${MASK}@`);
}

/**
 * Replaces every occurrence of each non-empty secret with `***`, and of its percent-encoded form (the
 * way it appears inside a URL). Longer secrets go first so that a secret containing another one is not
 * left half-masked.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(MASK);
  return out;
}

/**
 * Whether two endpoints name the same database, comparing canonical hosts (`localhost`, `127.0.0.1`
 * and `::1` are one host; `127.1` is `127.0.0.1`). A configuration-level check only: two different names
 * of one server (DNS aliases, a public and a private address) are not caught here.
 */
export function isSameDatabase(a: RedisEndpoint, b: RedisEndpoint): boolean {
  if (a.sentinel || b.sentinel) {
    // Two URLs of one master set: same name and db, asked of a common sentinel. A sentinel URL and a
    // direct one may still name one server: the run-time check (INFO run_id) catches that.
    if (!a.sentinel || !b.sentinel) return false;
    const nodes = new Set(a.sentinel.nodes.map((n) => `${canonicalHost(n.host)}:${n.port}`));
    return (
      a.sentinel.name === b.sentinel.name &&
      a.db === b.db &&
      b.sentinel.nodes.some((n) => nodes.has(`${canonicalHost(n.host)}:${n.port}`))
    );
  }
  return a.port === b.port && a.db === b.db && canonicalHost(a.host) === canonicalHost(b.host);
}

/**
 * The database a URL names, as a text that two spellings of it share (isSameDatabase's notion: host
 * spelling, user and password do not count): what a journal's plan digest keeps of a source.
 */
export function databaseId(endpoint: RedisEndpoint): string {
  if (endpoint.sentinel) return `sentinel:${endpoint.sentinel.name}/${endpoint.db}`;
  return `${canonicalHost(endpoint.host)}:${endpoint.port}/${endpoint.db}`;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '[::ffff:7f00:1]']);

function canonicalHost(host: string): string {
  let canonical = host.toLowerCase().replace(/\.$/, '');
  try {
    // The WHATWG parser of special schemes canonicalises IPv4 (`127.1`) and IPv6 (`0:0::1`) spellings.
    canonical = new URL(`http://${canonical.includes(':') ? `[${canonical}]` : canonical}/`).hostname;
  } catch {
    // Not a host the URL parser accepts: compare it as written.
  }
  return LOOPBACK.has(canonical) ? 'localhost' : canonical;
}

/** An RDB file named as a source (SPEC §10): its absolute path and the database of the file to read. */
export interface FileSource {
  path: string;
  db: number;
}

/**
 * The RDB file a source names, or undefined when it names a server: `file:///abs/x.rdb`,
 * `file://./rel.rdb`, or a path without a `scheme://` that ends in `.rdb` or starts with `/` or `.`
 * (`./x.rdb`, `/backups/a.rdb`), each with an optional `?db=N` (default 0). Other text without a
 * scheme (`localhost:6379`) is left to parseRedisUrl, whose error says what a URL looks like. Whether the path is a readable RDB file is learned when the
 * run opens it (exit 2 before any write); here only the form is checked.
 */
export function fileSourceOf(text: string, field = 'url'): FileSource | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'file') return undefined;
  const query = /\?db=([^&#]*)$/.exec(text);
  const bare = query ? text.slice(0, query.index) : text;
  if (scheme === undefined && !/\.rdb$/i.test(bare) && !/^[/.]/.test(bare)) return undefined;
  let db = 0;
  if (query) {
    db = /^\d{1,9}$/.test(query[1]!) ? Number(query[1]) : Number.NaN;
    if (Number.isNaN(db))
      throw new ConfigError(field, `bad database "${query[1]}" in ${text} (accepted: ?db=N, N >= 0)`);
  }
  let path = bare;
  if (scheme === 'file') {
    const rest = bare.slice('file://'.length);
    try {
      // file:///abs/x.rdb (percent-decoded as a URL); file://./rel.rdb or file://rel.rdb as a relative path.
      path = rest.startsWith('/') ? fileURLToPath(`file://${rest}`) : rest;
    } catch (err) {
      throw new ConfigError(field, `bad file URL ${text}: ${(err as Error).message}`);
    }
  }
  if (path === '') throw new ConfigError(field, `no file path in "${text}"`);
  return { path: resolve(path), db };
}

/**
 * What stays the same across spellings of a source (databaseId for a server, the absolute path and db
 * for an RDB file): what a journal's plan digest keeps of it.
 */
export function sourceId(url: string): string {
  const file = fileSourceOf(url);
  return file ? `file:${file.path}?db=${file.db}` : databaseId(parseRedisUrl(url));
}
