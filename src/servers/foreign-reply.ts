/**
 * The one place that tells, from the first bytes a port sent back, that it does not speak RESP, and
 * what it seems to speak instead (SPEC §4: name the culprit, suggest the fix). Both the control
 * connections (connect.ts) and the hot path's sockets (pipe.ts handshake) ask it when a connection
 * failed before it was proven, so a user pointed at a web server's port reads "it looks like HTTP"
 * instead of a parser's "Protocol error, got "H" as reply type byte".
 */

/** The first byte of every RESP2 and RESP3 reply: + - : $ * and _ , # ! = ( % ~ | >. */
const RESP_TYPES = new Set([...'+-:$*_,#!=(%~|>'].map((c) => c.charCodeAt(0)));

/**
 * One clause for "`<server>` …", or undefined when `first` (the first chunk received on a connection)
 * may be RESP, or nothing came. A TLS record (content type 0x14–0x17, version 0x03 0x0n), which a TLS
 * port may send a client that speaks plain text (an alert: 0x15 0x03 …), keeps the rediss:// hint;
 * anything else is named as not Redis, with what it looks like.
 */
export function describeForeignReply(first: Buffer | undefined): string | undefined {
  if (!first || first.length === 0 || RESP_TYPES.has(first[0]!)) return undefined;
  if (first[0]! >= 0x14 && first[0]! <= 0x17 && (first.length < 2 || first[1] === 0x03)) {
    return `answered a plain-text connection with a TLS record (${hex(first)}); this port speaks TLS: use a rediss:// URL`;
  }
  const line = first.subarray(0, 200).toString('latin1').split(/\r?\n/)[0]!;
  const printable = /^[\x20-\x7e]+$/.test(line);
  const like = /^HTTP\/\d/.test(line)
    ? 'it looks like HTTP'
    : /^SSH-\d/.test(line)
      ? 'it looks like SSH'
      : printable
        ? 'it sent text'
        : 'it sent binary data';
  const sample = printable ? `"${line.length > 60 ? `${line.slice(0, 60)}…` : line}"` : hex(first);
  return `answered with something that is not the Redis protocol (${like}: ${sample}); check the host and port`;
}

/** The first bytes in hex, for a message: `15 03 03 00 02 …`. */
function hex(bytes: Buffer): string {
  const shown = [...bytes.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > 6 ? `${shown} …` : shown;
}
