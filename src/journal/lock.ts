import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError } from '../common/errors.js';

/** A journal held by this process: release it when the run or rollback ends. */
export interface JournalLock {
  release(): Promise<void>;
}

/** Who holds a journal's lock: the process, its host, and since when (ISO time). */
export interface Holder {
  pid: number;
  host: string;
  since: string;
}

/**
 * One kvmerge at a time per journal (SPEC §6.3). Two processes on one journal (a resume started while
 * the run still goes on, or twice at once) put back and apply the same steps, appending list
 * elements twice, and interleave their records. The lock is a file beside the journal, `FILE.lock`,
 * created exclusively (O_EXCL, which local and NFSv3+ file systems honour), naming its holder's pid
 * and host; Node has no flock. A lock whose process is gone from this host (kill -9, a power loss)
 * is taken over; one of a live process, or of another host, is exit 2 naming it.
 */
export async function lockJournal(path: string): Promise<JournalLock> {
  const lockPath = `${path}.lock`;
  const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(lockPath, 'wx');
      try {
        await file.writeFile(`${JSON.stringify(me)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      return { release: () => unlink(lockPath).catch(() => undefined) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // The lock is the first file a run creates beside its journal: a missing directory shows here.
        throw new ConfigError(
          '--backup',
          `the directory ${dirname(path)} of the journal ${path} does not exist; create it, or give --backup a path in an existing directory`,
        );
      }
      if (code !== 'EEXIST') {
        throw new ConfigError(
          '--backup',
          `cannot create the lock file ${lockPath} beside the journal (${code ?? (err as Error).message}); pick a writable path for --backup`,
        );
      }
    }
    const holder = await readHolder(lockPath);
    if (holder && isAlive(holder)) {
      throw new ConfigError(
        '--backup',
        `${path} is in use by another kvmerge (pid ${holder.pid} on ${holder.host}, since ${holder.since}); wait for it to end, or if it is gone, delete ${lockPath}`,
      );
    }
    // Its holder is gone (or the file is torn: its holder died writing it): taken over.
    await unlink(lockPath).catch(() => undefined);
  }
  throw new ConfigError('--backup', `${lockPath} keeps coming back; is another kvmerge starting on ${path}?`);
}

/**
 * The live process holding the journal's lock (a run or rollback still at work on it), or undefined.
 * Only reads: for `kvmerge status`, which never takes the lock.
 */
export async function journalHolder(path: string): Promise<Holder | undefined> {
  const holder = await readHolder(`${path}.lock`);
  return holder && isAlive(holder) ? holder : undefined;
}

async function readHolder(lockPath: string): Promise<Holder | undefined> {
  try {
    const holder = JSON.parse(await readFile(lockPath, 'utf8')) as Partial<Holder>;
    if (typeof holder.pid === 'number' && typeof holder.host === 'string')
      return { pid: holder.pid, host: holder.host, since: String(holder.since) };
  } catch {
    // Gone meanwhile, or torn.
  }
  return undefined;
}

/** Whether the holder may still run: another host's process cannot be asked, so it is taken to. */
function isAlive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    // EPERM: a process of another user has that pid.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
