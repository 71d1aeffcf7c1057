import { readFile } from 'node:fs/promises';
import { ConfigError } from '../common/errors.js';
import { redactUrlsInText } from './url.js';

/** Reads and parses the YAML configuration file; a missing file or a syntax error is a ConfigError. */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (code ?? String(err));
    throw new ConfigError('--config', `cannot read ${file} (${why}); check the path given to -c`);
  }
  // Loaded here, not at start-up: only a run with a configuration file needs the YAML parser.
  const { LineCounter, parseDocument } = await import('yaml');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    // prettyErrors is off because it quotes the offending line, which may hold a password.
    const what = redactUrlsInText(error.message);
    throw new ConfigError(
      '--config',
      `${file} line ${line}, column ${col}: ${what}; fix the YAML syntax there`,
    );
  }
  try {
    return doc.toJS();
  } catch (err) {
    throw new ConfigError('--config', `${file}: ${redactUrlsInText((err as Error).message)}`);
  }
}
