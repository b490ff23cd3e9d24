// deepseek-webgpu command line: builds the commander program; each subcommand lives in src/cli/<name>.ts and
// exports register(program). The CLI's own environment variables are read here and nowhere else; the Hugging
// Face ones (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE) by src/hub/settings.ts, as
// huggingface_hub reads them, for the library too.

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { CheckpointError, ConfigError, GpuError, HubError, InputError, ShaderError } from './errors.ts';
import type { NodeFallback } from './gpu/node-webgpu.ts';
import * as chat from './cli/chat.ts';
import * as generate from './cli/generate.ts';
import * as info from './cli/info.ts';
import * as logits from './cli/logits.ts';
import * as perplexity from './cli/perplexity.ts';
import * as pull from './cli/pull.ts';
import * as quantize from './cli/quantize.ts';
import * as serve from './cli/serve.ts';
import * as tune from './cli/tune.ts';
import * as verify from './cli/verify.ts';

// To add a subcommand: import its module above and list it here.
const SUBCOMMANDS: { register(program: Command): void }[] = [generate, chat, logits, perplexity, verify, info, serve, pull, tune, quantize];

export function buildProgram(): Command {
  const program = new Command('deepseek-webgpu')
    .description('DeepSeek (V2, V3, R1) inference on WebGPU')
    .version(`deepseek-webgpu ${packageVersion()}`, '-V, --version', 'print the version')
    .addOption(
      new Option('--fallback <mode>', 'use the bundled SwiftShader CPU driver: auto (when no GPU driver), swiftshader, system')
        .choices(['auto', 'swiftshader', 'system'])
        .env('DEEPSEEK_WEBGPU_FALLBACK')
        .default('auto'),
    );
  for (const subcommand of SUBCOMMANDS) subcommand.register(program);
  // A mistyped flag gets one line with the likely fix; pages of help would bury it.
  for (const command of [program, ...program.commands]) {
    const name = command === program ? program.name() : `${program.name()} ${command.name()}`;
    command.configureOutput({ outputError: (text, write) => write(`${oneLineError(text, name)}\n`) });
  }
  return program;
}

/** commander's "error: unknown option '--x'\n(Did you mean --y?)" as one line, prefixed like the CLI's other errors. */
export function oneLineError(text: string, command: string): string {
  const body = text.trim().replace(/^error: /, '');
  const suggested = body.replace(/\s*\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)');
  const hint = suggested === body && /^unknown (option|command)/.test(body) ? ` (see ${command} --help)` : '';
  return `deepseek-webgpu: ${suggested.replace(/\s*\n\s*/g, ' ')}${hint}`;
}

/** From package.json, one folder up from this file (src/ in a clone and in the published package alike). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Runs the CLI; errors the engine throws on purpose print as one line, others with their stack. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const expected = [ConfigError, CheckpointError, GpuError, ShaderError, InputError, HubError].some((c) => err instanceof c);
    const text = expected ? `${(err as Error).name}: ${(err as Error).message}` : ((err as Error)?.stack ?? String(err));
    console.error(`deepseek-webgpu: ${text}`);
    process.exitCode = 1;
  }
}

// `tsx src/cli.ts ...` runs it directly; bin/deepseek-webgpu.js imports it and calls main().
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
