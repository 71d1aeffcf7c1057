/** One Redis command as sent: name, then arguments (Buffers pass through unchanged: SPEC §1.8). */
export type Arg = Buffer | string | number;
export type Command = [string, ...Arg[]];

/** The remaining lifetime to give a key: null for no expiry. */
export type Ttl = number | null;
