/**
 * The one reader of a server's error replies: everything above servers/ asks `classifyReply` what a
 * reply means instead of matching its text, so a server that words a refusal differently (Pika, an older
 * Redis) is taught here once.
 */

/** What an error reply says, as far as kvmerge acts on it. */
export type ReplyKind =
  /** RESTORE found the key there (BUSYKEY). */
  | 'busykey'
  /** The user may not run the command or touch the key (NOPERM). */
  | 'noperm'
  /** The server is a replica now (READONLY): a demoted master. */
  | 'readonly'
  /** A cluster node sends the key's slot elsewhere (MOVED, ASK: see `redirectOf`). */
  | 'moved'
  | 'ask'
  /** A cluster that cannot serve the slot for a moment (TRYAGAIN, CLUSTERDOWN). */
  | 'tryagain'
  | 'clusterdown'
  /** The server is loading its data set (LOADING). */
  | 'loading'
  /** The server is out of memory under its maxmemory policy (OOM). */
  | 'oom'
  /** The key holds another type than the command's (WRONGTYPE). */
  | 'wrongtype'
  /** The credentials were refused, or none were given where they are needed (WRONGPASS, NOAUTH). */
  | 'auth'
  /** The command is unknown or renamed away. */
  | 'unknown-command'
  /** RESTORE refused the payload: another RDB version, or a bad checksum. */
  | 'bad-payload'
  /** SELECT of a database the server does not have. */
  | 'bad-db'
  /** A transaction refused at queueing time (EXECABORT). */
  | 'execabort'
  | 'other';

const CODES: Record<string, ReplyKind> = {
  BUSYKEY: 'busykey',
  NOPERM: 'noperm',
  READONLY: 'readonly',
  MOVED: 'moved',
  ASK: 'ask',
  TRYAGAIN: 'tryagain',
  CLUSTERDOWN: 'clusterdown',
  LOADING: 'loading',
  OOM: 'oom',
  WRONGTYPE: 'wrongtype',
  WRONGPASS: 'auth',
  NOAUTH: 'auth',
  EXECABORT: 'execabort',
};

/** Texts after `ERR` (or of a server that uses no code) that name a kind, checked in this order. */
const PHRASES: [RegExp, ReplyKind][] = [
  [
    /invalid password|invalid username-password|without any password configured|authentication required/i,
    'auth',
  ],
  [/unknown command/i, 'unknown-command'],
  [/payload version or checksum/i, 'bad-payload'],
  [/DB index is out of range|invalid DB index/i, 'bad-db'],
  // Some servers put the code after a prefix of their own: these two are acted on wherever they are.
  [/NOPERM/, 'noperm'],
  [/BUSYKEY/, 'busykey'],
];

/**
 * Whether `err` is an error reply of a server (what redis-parser and ioredis name a ReplyError), as
 * opposed to a lost connection, a timeout or an error of kvmerge's own.
 */
export function isServerReply(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** What an error reply (or an error that carries one's text, as ioredis throws them) says. */
export function classifyReply(err: Error): ReplyKind {
  const message = err.message;
  const space = message.indexOf(' ');
  const code = CODES[space < 0 ? message : message.slice(0, space)];
  if (code) return code;
  for (const [phrase, kind] of PHRASES) if (phrase.test(message)) return kind;
  return 'other';
}

/** `err` is a reply of one of these kinds. */
export function replyIs(err: unknown, ...kinds: ReplyKind[]): boolean {
  return err instanceof Error && kinds.includes(classifyReply(err));
}

/** The refusal of a command (not of a key) in a NOPERM reply: "has no permissions to run the … command". */
export function refusesCommand(err: Error): boolean {
  return classifyReply(err) === 'noperm' && /permissions to run/i.test(err.message);
}

/** A MOVED or ASK reply: the slot and the node (`host:port`) that serves it. */
export function slotRedirect(err: Error): { kind: 'moved' | 'ask'; slot: number; addr: string } | undefined {
  const match = /^(MOVED|ASK) (\d+) (\S+)/.exec(err.message);
  if (!match) return undefined;
  return { kind: match[1] === 'MOVED' ? 'moved' : 'ask', slot: Number(match[2]), addr: match[3]! };
}

/** The first line of a reply's text, for a message that quotes the server. */
export function replyText(err: Error): string {
  return err.message.split('\n')[0]!;
}
