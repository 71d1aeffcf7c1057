import { classifyReply, replyText } from '../servers/errors/classify.js';
import type { Reply } from '../servers/resp.js';

/** What became of one write (writer.ts): the run counts it, retries it or reads it again natively. */
export type WriteResult =
  | { status: 'written' }
  /** The source value's lifetime ran out before it could be written: nothing was sent. */
  | { status: 'expired' }
  /** The dump path cannot carry this key: read and write it natively. `wholeRun`: nor any later key. */
  | { status: 'native'; reason: string; wholeRun: boolean }
  /** The target changed under us (a key appeared where none was): decide the key again. */
  | { status: 'retry'; reason: string }
  | { status: 'failed'; message: string };

/** The result of most writes: one shared object (read only), not one per key. */
export const WRITTEN: WriteResult = Object.freeze({ status: 'written' });

/**
 * The fate of one item from its reply; an EXEC reply holds one reply per queued command. `dumped`: the
 * item was written as a RESTORE, whose refusals send it (and the run) to native writes instead.
 */
export function outcome(reply: Reply, dumped: boolean): WriteResult {
  if (reply instanceof Error) return classify(reply, dumped);
  if (Array.isArray(reply)) {
    const failure = reply.find((r): r is Error => r instanceof Error);
    if (failure) return classify(failure, dumped);
  }
  return WRITTEN;
}

/** What an error reply means for the key and the rest of the run. */
function classify(err: Error, dumped: boolean): WriteResult {
  if (dumped) {
    switch (classifyReply(err)) {
      case 'bad-payload':
        return { status: 'native', reason: 'payload rejected by target', wholeRun: true };
      case 'unknown-command':
        return { status: 'native', reason: 'target has no RESTORE', wholeRun: true };
      case 'noperm':
        return { status: 'native', reason: 'RESTORE not permitted on target', wholeRun: true };
      case 'busykey':
        return { status: 'retry', reason: 'key appeared on the target meanwhile' };
    }
  }
  return { status: 'failed', message: replyText(err) };
}
