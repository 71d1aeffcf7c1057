/**
 * Thrown by the RDB decoders for bytes they will not read, with a message that says why: a corrupt or
 * truncated encoding, an unknown one, or a format kvmerge does not decode (module types, zipmap, …).
 */
export class UnsupportedPayloadError extends Error {}

/**
 * The bytes end before the encoding does. A subclass, so that the file reader, which holds a window
 * of the file and not all of it, can tell "read more" from "corrupt".
 */
export class PayloadEndsEarlyError extends UnsupportedPayloadError {}
