import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../common/errors.js';
import type { TlsPlan } from './plan.js';

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
