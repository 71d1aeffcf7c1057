/**
 * Thrown by the RDB decoders for bytes they will not read, with a message that says why: a corrupt or
 * truncated encoding, an unknown one, or a format kvmerge does not decode (module types, zipmap, …).
 */
export class UnsupportedPayloadError extends Error {}
