/**
 * The bench's `bare` contender: the floor a client reaches on the bench's machine. It copies the sources
 * into the target the way kvmerge's copy does, with kvmerge's own probe script
 * (src/servers/batch-scripts.ts) and RESP code (src/servers/resp.ts, resp-decoder.ts), batches and
 * concurrency, and nothing more: no once-only key set, no decisions, no counters per type, no failure
 * handling, no TTL adjustment, no report. Run as a process of its own, measured like kvmerge, it shows
 * how much of kvmerge's wall time and CPU is its own work per key and how much any client pays on
 * these cores (issue 20). It is not a tool: a key SCAN returns twice is sent twice (refused BUSYKEY,
 * counted), a lost connection ends it, a value too big for one payload is counted and left behind.
 *
 *   node dist/bench/bare-copy.js BATCH CONCURRENCY TARGET_URL SOURCE_URL...
 *
 * Prints `{"restored":N,"refused":N,"big":N}` on stdout.
 */
import net from 'node:net';
import { probeAndDumpCommand } from '../src/servers/batch-scripts.js';
import { type Command, encode, type Reply } from '../src/servers/resp.js';
import { RespDecoder } from '../src/servers/resp-decoder.js';

/** Values above this many bytes are left behind (kvmerge's own default threshold streams them). */
const DUMP_BELOW = 64 * 1024 * 1024;
/** kvmerge's default SCAN COUNT (config schema: scanCount). */
const SCAN_COUNT = 1000;

interface Waiting {
  replies: Reply[];
  count: number;
  resolve(replies: Reply[]): void;
}

/** One connection: commands pipelined in, replies handed back in order. */
class BarePipe {
  private readonly socket: net.Socket;
  private readonly waiting: Waiting[] = [];
  readonly ready: Promise<void>;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect(Number(port || 6379), hostname);
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    const take = (reply: Reply): void => {
      const head = this.waiting[0]!;
      head.replies.push(reply);
      if (head.replies.length === head.count) {
        this.waiting.shift();
        head.resolve(head.replies);
      }
    };
    const decoder = new RespDecoder({
      reply: take,
      error: take,
      fatal: (err) => this.socket.destroy(err),
    });
    this.socket.on('data', (chunk: Buffer) => decoder.execute(chunk));
    this.socket.on('error', (err) => fail(new Error(`${url}: ${err.message}`)));
  }

  send(commands: Command[]): Promise<Reply[]> {
    if (commands.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.waiting.push({ replies: [], count: commands.length, resolve });
      this.socket.write(encode(commands));
    });
  }

  close(): void {
    this.socket.end();
  }
}

function fail(err: unknown): never {
  process.stderr.write(`bare copy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const counts = { restored: 0, refused: 0, big: 0 };

/** Probes one batch on the source and restores what it dumped on the target. */
async function copyBatch(source: BarePipe, target: BarePipe, keys: Buffer[]): Promise<void> {
  const [reply] = await source.send([probeAndDumpCommand(keys, false, DUMP_BELOW)]);
  if (!Array.isArray(reply)) throw new Error(`the probe script replied ${String(reply)}`);
  const restores: Command[] = [];
  for (let i = 0; i < keys.length; i++) {
    const pttl = reply[i * 4 + 2];
    const payload = reply[i * 4 + 3];
    if (Buffer.isBuffer(payload)) {
      restores.push(['RESTORE', keys[i]!, typeof pttl === 'number' && pttl > 0 ? pttl : 0, payload]);
    } else if (reply[i * 4] !== null && String(reply[i * 4]) !== 'none') counts.big++;
  }
  for (const r of await target.send(restores)) {
    if (r instanceof Error) counts.refused++;
    else counts.restored++;
  }
}

/** SCAN's pages cut into batches, at most `concurrency` of them out at once. */
async function copySource(url: string, target: BarePipe, batch: number, concurrency: number): Promise<void> {
  const scan = new BarePipe(url);
  const source = new BarePipe(url);
  await Promise.all([scan.ready, source.ready]);
  const out = new Set<Promise<void>>();
  let cursor = '0';
  do {
    const [page] = await scan.send([['SCAN', cursor, 'COUNT', SCAN_COUNT]]);
    const [next, keys] = page as [Buffer, Buffer[]];
    cursor = next.toString();
    for (let i = 0; i < keys.length; i += batch) {
      while (out.size >= concurrency) await Promise.race(out);
      const job: Promise<void> = copyBatch(source, target, keys.slice(i, i + batch))
        .catch(fail)
        .finally(() => out.delete(job));
      out.add(job);
    }
  } while (cursor !== '0');
  await Promise.all(out);
  scan.close();
  source.close();
}

const [batchText, concurrencyText, targetUrl, ...sourceUrls] = process.argv.slice(2);
if (!targetUrl || sourceUrls.length === 0) {
  process.stderr.write('usage: node dist/bench/bare-copy.js BATCH CONCURRENCY TARGET_URL SOURCE_URL...\n');
  process.exit(2);
}
const target = new BarePipe(targetUrl);
await target.ready;
// One source after the other, as kvmerge folds them.
for (const url of sourceUrls) await copySource(url, target, Number(batchText), Number(concurrencyText));
target.close();
process.stdout.write(`${JSON.stringify(counts)}\n`);
