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
