import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../common/errors.js';
import type { TlsPlan } from '../config/plan.js';

/**
 * Node's TLS options for a rediss:// server from the plan's files (SPEC §4 --tls-*, §3.1 `tls`).
 * The files are read here, once per connection setup; an unreadable file is a configuration error
 * (exit 2) naming the file and the flag. `insecure` turns certificate verification off.
 */
export function tlsOptions(plan: TlsPlan | undefined): ConnectionOptions {
  if (!plan) return {};
  const read = (file: string, field: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(
        field,
        `cannot read ${file} (${code === 'ENOENT' ? 'no such file' : code}); check the path`,
      );
    }
  };
  const out: ConnectionOptions = {};
  if (plan.ca) out.ca = read(plan.ca, '--tls-ca');
  if (plan.cert) out.cert = read(plan.cert, '--tls-cert');
  if (plan.key) out.key = read(plan.key, '--tls-key');
  if (plan.insecure) out.rejectUnauthorized = false;
  return out;
}

/**
 * One line that explains a TLS failure and its fix, or undefined when `err` is not about TLS. `tls`:
 * the URL asked for TLS (rediss://).
 */
export function explainTls(err: Error & { code?: string }, tls: boolean): string | undefined {
  const code = err.code ?? '';
  const text = `${code} ${err.message}`;
  if (!tls) {
    // A TLS port (Redis's own) resets a plain-text connection at once. Bytes that are no RESP, a TLS
    // alert among them, are told apart by describeForeignReply (foreign-reply.ts), which runs first.
    if (/ECONNRESET|socket hang up|closed/i.test(text)) {
      return 'the server closed the connection at once; if this port speaks TLS, use a rediss:// URL';
    }
    return undefined;
  }
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|unable to verify/i.test(text)) {
    return `the server's certificate is not signed by a trusted CA (${code || err.message}); pass its CA with --tls-ca FILE (or tls.ca), or --tls-insecure to skip verification`;
  }
  if (/ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match/i.test(text)) {
    return `the server's certificate does not name this host (${err.message.split('\n')[0]}); connect by a name the certificate holds, or --tls-insecure`;
  }
  if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/i.test(text)) {
    return `the server's certificate is not valid now (${code}); renew it, or --tls-insecure`;
  }
  if (
    /certificate required|alert number 116|handshake failure|alert bad certificate|alert number 42/i.test(
      text,
    )
  ) {
    return 'the server refused the TLS handshake: it wants a client certificate; pass --tls-cert FILE --tls-key FILE (or tls.cert, tls.key)';
  }
  if (/wrong version number|packet length too long|EPROTO|ssl3_get_record|WRONG_VERSION/i.test(text)) {
    return "the server does not speak TLS on this port; use a redis:// URL, or the server's TLS port";
  }
  // With TLS 1.3 the client may finish its side of the handshake before the server refuses it: the
  // refusal of a missing client certificate then arrives as a reset.
  if (/ECONNRESET|socket hang up|Connection is closed/i.test(text)) {
    return 'the server closed the TLS connection at once; if it asks for client certificates (tls-auth-clients), pass --tls-cert FILE --tls-key FILE (or tls.cert, tls.key)';
  }
  return undefined;
}
