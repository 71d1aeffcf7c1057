/** A key for a message: quoted when printable, base64 otherwise. */
export function describeKey(key: Buffer): string {
  const text = key.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(key) && !/[\x00-\x1f\x7f]/.test(text);
  return printable ? JSON.stringify(text) : `base64:${key.toString('base64')}`;
}
