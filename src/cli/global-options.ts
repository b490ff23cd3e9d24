// The program-wide options (src/cli.ts defines them); a file of its own so that subcommands need not import
// the program that imports them.
import type { NodeFallback } from '../gpu/node-webgpu.ts';

/** Options every subcommand sees through `command.optsWithGlobals<GlobalOptions>()`. */
export interface GlobalOptions {
  fallback: NodeFallback;
}
