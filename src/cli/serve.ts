// `deepseek-webgpu serve`: loads the model once and serves the OpenAI-compatible HTTP API of src/server/
// until Ctrl-C (SIGINT) or SIGTERM. The URL goes to stdout (useful with --port 0); request logs to stderr.
import type { Command } from 'commander';
import type { GlobalOptions } from '../cli.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import { startServer, type OpenAiServer, type ServerOptions } from '../server/server.ts';
import { addModelOptions, loadModelFromCli, parseIntOption, type ModelCliOptions } from './load-model.ts';

interface ServeCliOptions extends ModelCliOptions {
  host: string;
  port: string;
  maxQueue: string;
}

export function register(program: Command): void {
  addModelOptions(
    program
      .command('serve')
      .description('serve an OpenAI-compatible HTTP API: /v1/chat/completions, /v1/completions, /v1/models, /health')
      .option('--host <address>', 'interface to bind; the API has no authentication, so keep it local unless a proxy guards it', '127.0.0.1')
      .option('--port <n>', 'TCP port (0 = any free port)', '8080')
      .option('--max-queue <n>', 'requests that may wait while one generates; more are refused with HTTP 429', '16'),
  ).action(async (options: ServeCliOptions, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    // Checked before the model loads, so a typo costs nothing.
    const port = parseIntOption(options.port, '--port') ?? 8080;
    if (port > 65535) throw new InputError('--port', `expected a port number <= 65535, got ${port}`);
    const maxQueue = parseIntOption(options.maxQueue, '--max-queue') ?? 16;
    const engine = await loadModelFromCli(options, fallback);
    try {
      const log = options.quiet ? undefined : (line: string) => console.error(line);
      const server = await listen(engine, { host: options.host, port, maxQueue, log });
      if (!isLoopback(options.host)) console.error(`warning: listening on ${options.host}: anyone who reaches this address can use the model`);
      console.log(`serving ${server.modelId} at ${server.url}/v1 (OpenAI-compatible; GET ${server.url}/health); Ctrl-C stops`);
      await untilSignal();
      console.error('stopping: ending running requests');
      await server.close();
    } finally {
      await engine.dispose();
    }
  });
}

/** startServer, with the usual socket errors turned into messages that name the option. */
async function listen(engine: Engine, options: ServerOptions): Promise<OpenAiServer> {
  try {
    return await startServer(engine, options);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const where = `${options.host}:${options.port}`;
    if (code === 'EADDRINUSE') throw new InputError('--port', `${where} is already in use`);
    if (code === 'EACCES') throw new InputError('--port', `no permission to listen on ${where} (ports below 1024 need privileges)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError('--host', `${options.host} is not an address of this machine`);
    throw e;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
