import { describe, expect, it } from 'vitest';
import { describeForeignReply } from '../../src/servers/foreign-reply.js';

describe('describeForeignReply: what a port that is no Redis server sent back', () => {
  it('says nothing of RESP2 and RESP3 replies, or of no bytes at all', () => {
    for (const reply of [
      '+PONG\r\n',
      '-NOAUTH x\r\n',
      ':1\r\n',
      '$1\r\nx\r\n',
      '*0\r\n',
      '%1\r\n',
      '_\r\n',
      '>2\r\n',
    ]) {
      expect(describeForeignReply(Buffer.from(reply)), reply).toBeUndefined();
    }
    expect(describeForeignReply(undefined)).toBeUndefined();
    expect(describeForeignReply(Buffer.alloc(0))).toBeUndefined();
  });

  it('names HTTP, with its status line, and gives no TLS hint', () => {
    const text = describeForeignReply(Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
    expect(text).toBe(
      'answered with something that is not the Redis protocol (it looks like HTTP: "HTTP/1.1 400 Bad Request"); check the host and port',
    );
  });

  it('names SSH, other text and binary data', () => {
    expect(describeForeignReply(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toMatch(
      /looks like SSH: "SSH-2.0-OpenSSH_9.6"/,
    );
    expect(describeForeignReply(Buffer.from('220 mail ESMTP\r\n'))).toMatch(/it sent text: "220 mail ESMTP"/);
    expect(describeForeignReply(Buffer.from([0x00, 0x01, 0xff]))).toMatch(/it sent binary data: 00 01 ff\)/);
  });

  it('keeps the rediss:// hint for a TLS record (an alert to a plain-text client)', () => {
    const text = describeForeignReply(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]));
    expect(text).toContain('use a rediss:// URL');
    expect(text).toContain('15 03 03 00 02 02 …');
    expect(text).not.toMatch(/not the Redis protocol/);
  });
});
