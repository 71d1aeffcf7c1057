/** The test harness's MONITOR parser (test/harness/monitor.ts): the arguments come back byte for byte. */
import { describe, expect, it } from 'vitest';
import { parseMonitorLine } from '../harness/monitor.js';

describe('parseMonitorLine', () => {
  it('splits a command into its arguments, whatever the client address', () => {
    expect(parseMonitorLine('+1796470487.465197 [0 127.0.0.1:56514] "info"')).toEqual(['info']);
    expect(parseMonitorLine('+1.5 [3 lua] "SET" "k" "v"')).toEqual(['SET', 'k', 'v']);
    expect(parseMonitorLine('+1.5 [0 unix:/tmp/r.sock] "GET" ""')).toEqual(['GET', '']);
  });

  it('undoes the escapes Redis writes (quotes, backslashes, control characters, \\xHH bytes)', () => {
    const line = String.raw`+1.5 [0 127.0.0.1:1] "SET" "a \"b\" \\c" "\n\r\t\a\b" "\xc3\xa9\x00\xff"`;
    const [, key, control, bytes] = parseMonitorLine(line);
    expect(key).toBe('a "b" \\c');
    expect(control).toBe('\n\r\t\x07\b');
    // The bytes are read as UTF-8: c3 a9 is é, a lone ff is not UTF-8.
    expect(bytes).toBe('é\u0000\ufffd');
  });
});
