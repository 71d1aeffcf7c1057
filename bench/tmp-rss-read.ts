import { fileValueWindows, RdbFile, type RdbKeyRecord } from '../src/rdb/file/index.js';
const path = '/tmp/rss/dump.rdb';
const file = await RdbFile.open(path, { bigValueBytes: 1 << 20 });
const recs: RdbKeyRecord[] = [];
for await (const r of file.records()) recs.push(r);
await file.close();
let peak = 0;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
for (const rec of recs) {
  const t0 = Date.now(); let n = 0;
  for await (const w of fileValueWindows(path, rec, { windowBytes: 4 << 20 })) n += w.length;
  const m = process.memoryUsage();
  console.log(rec.key.toString(), n, Date.now() - t0, 'ms; rss now', (m.rss / 2 ** 20).toFixed(0), 'peak', (peak / 2 ** 20).toFixed(0));
}
clearInterval(timer);
