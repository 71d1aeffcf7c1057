import { KvmergeError } from '../common/errors.js';
import { EXIT } from './exit-codes.js';
import type { MergeFlags } from './options.js';
import { Output } from './output.js';
import { parseCommandLine } from './parser.js';
import { mergeCommand } from './run-merge.js';
import { jsonLines } from './watch.js';

/**
 * The kvmerge command line. Resolves to the exit code of SPEC §4 and leaves exiting to the caller; the
 * only process.exit is the forced one on a second Ctrl-C. Every error ends as one line on stderr:
 * `kvmerge: <message>`, with a stack trace only for an internal error under --verbose.
 */
export async function main(argv: string[]): Promise<number> {
  // Until the command line is parsed, these are guesses from the raw words; errors need them already.
  const urls = argv.flatMap((arg) => [arg, arg.slice(arg.indexOf('=') + 1)]);
  let out = new Output({ verbose: argv.includes('--verbose') });
  out.addUrls(urls);
  try {
    const command = await parseCommandLine(argv);
    const quiet = 'flags' in command && 'display' in command.flags && command.flags.display.quiet;
    if (!quiet) for (const warning of command.warnings ?? []) out.info(warning);
    switch (command.kind) {
      case 'printed':
        return EXIT.done;
      case 'rollback': {
        const { display } = command.flags;
        out = new Output({ quiet: display.quiet, verbose: display.verbose });
        out.addUrls(urls);
        return await (await import('./run-rollback.js')).rollbackCommand(command.flags, out);
      }
      case 'status':
        return await (await import('./run-status.js')).statusCommand(command.flags, out);
      case 'demo':
        // Loaded on demand, like the engine: it pulls in ioredis and the whole pipeline.
        return await (await import('./run-demo.js')).runDemo({ progress: command.progress });
      case 'verify': {
        const { display } = command.flags;
        out = new Output({ quiet: display.quiet, verbose: display.verbose });
        out.addUrls(urls);
        if (command.flags.printConfig) return await printConfig(command.flags, out);
        if (display.progressJson) jsonLines(out);
        return await (await import('./run-verify.js')).verifyCommand(command.flags, out);
      }
      case 'merge': {
        const { display } = command.flags;
        out = new Output({ quiet: display.quiet, verbose: display.verbose });
        out.addUrls(urls);
        if (command.flags.printConfig) return await printConfig(command.flags, out);
        if (display.progressJson) jsonLines(out);
        return await mergeCommand(command.flags, out, argv);
      }
    }
  } catch (err) {
    // Guessed from the raw words: a command line that does not parse has no parsed --json.
    const json = argv.some((arg) => arg === '--json' || arg === '--json=true');
    if (err instanceof KvmergeError) {
      out.error(err.message);
      if (json) out.jsonError(err.message, err.exitCode);
      return err.exitCode;
    }
    out.internalError(err);
    if (json)
      out.jsonError(`internal error: ${err instanceof Error ? err.message : String(err)}`, EXIT.failed);
    return EXIT.failed;
  }
}

/** --print-config (merge or verify): loaded on demand, like the other commands. */
async function printConfig(flags: MergeFlags, out: Output): Promise<number> {
  return (await import('./print-config.js')).printConfigCommand(flags, out);
}
