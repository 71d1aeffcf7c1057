import { ConnectionError } from '../common/errors.js';
import { RdbFileError } from '../rdb/file/index.js';

/**
 * Damage in an RDB file that verify finds past its pre-read (a file over 1 GiB is not pre-read whole):
 * the RdbFileError names the file and the byte offset; as a ConnectionError naming the source too, it
 * is one line and exit 2, as the same damage found before the check.
 */
export function fileError(source: string, err: unknown): unknown {
  return err instanceof RdbFileError ? new ConnectionError(`source ${source}: ${err.message}`) : err;
}
