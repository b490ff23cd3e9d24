// `deepseek-webgpu serve`: loads the model once and serves the OpenAI-compatible HTTP API of src/server/
// until Ctrl-C (SIGINT) or SIGTERM. The URL goes to stdout (useful with --port 0); request logs to stderr.
import { Option, type Command } from 'commander';
import type { GlobalOptions } from './global-options.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import { normalizeOrigin } from '../server/origin-policy.ts';
import type { OpenAiServer, ServerOptions } from '../server/server.ts';
import { addCacheTokensOption, addModelOptions, loadModelFromCli, parseIntOption, type ModelCliOptions } from './load-model.ts';

interface ServeCliOptions extends ModelCliOptions {
  host: string;
  port: string | number;
  maxQueue: string | number;
  maxBatch: string | number;
  batch: boolean;
  prefixCache: boolean;
  allowHost: string[];
  cors: string[];
  apiKey?: string;
}

const collect = (value: string, all: string[]) => [...all, value];
// A DNS name, an IP address (IPv6 bracketed or not) or '*'.
const HOST_NAME = /^(\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?|\[?[0-9a-f:.]+\]?)$/i;

export function register(program: Command): void {
  const serve = addModelOptions(
    program
      .command('serve')
      .description('serve an OpenAI-compatible HTTP API: /v1/chat/completions, /v1/completions, /v1/models, /health')
      .option('--host <address>', 'interface to bind; keep it local unless --api-key or a proxy guards it', '127.0.0.1')
      .addOption(new Option('--port <n>', 'TCP port (0 = any free port)').default(8080))
      .addOption(new Option('--max-queue <n>', 'requests that may wait while the batch is full; more are refused with HTTP 429').default(16))
      .addOption(new Option('--max-batch <n>', 'requests generating together (continuous batching: each joins at the next step)').default(8))
      .option('--no-batch', 'generate one request at a time')
      .option('--no-prefix-cache', "don't keep the cache pages of finished requests for prompts that start with the same tokens")
      .option('--allow-host <name>', 'also answer requests addressed to this host name (repeatable; * = any); localhost and IP addresses always are', collect, [])
      .option('--cors <origin>', 'let web pages of this origin call the API, e.g. http://localhost:3000 (repeatable; * = any page)', collect, [])
      .addOption(new Option('--api-key <key>', 'require Authorization: Bearer <key> on /v1 routes').env('DEEPSEEK_WEBGPU_API_KEY')),
  );
  addCacheTokensOption(serve, '--max-batch full contexts, fewer if memory is short; a request without max_tokens takes at most cache / --max-batch');
  serve.action(async (options: ServeCliOptions, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    // Checked before the model loads, so a typo costs nothing.
    const port = parseIntOption(options.port, '--port') ?? 8080;
    if (port > 65535) throw new InputError('--port', `expected a port number <= 65535, got ${port}`);
    const maxQueue = parseIntOption(options.maxQueue, '--max-queue') ?? 16;
    const maxBatch = parseIntOption(options.maxBatch, '--max-batch', 1) ?? 8;
    const access = accessOptions(options);
    // Room for every batch row to reach the full context, as far as memory allows (src/model/cache-size.ts).
    const engine = await loadModelFromCli(options, fallback, { cacheSequences: options.batch ? maxBatch : 1, prefixCache: options.prefixCache });
    try {
      const log = options.quiet ? undefined : (line: string) => console.error(line);
      // A model named by hub id is served under that id, not its snapshot folder's name (a commit hash).
      const server = await listen(engine, { host: options.host, port, maxQueue, maxBatch, batch: options.batch, log, modelId: options.hubModel, ...access });
      if (!isLoopback(options.host) && access.apiKey === undefined) {
        console.error(`warning: listening on ${options.host} without --api-key: anyone who reaches this address can use the model`);
      }
      const c = server.cache;
      console.log(
        `serving ${server.modelId} at ${server.url}/v1 (OpenAI-compatible; GET ${server.url}/health; a chat page at ${server.url}/); ` +
          `cache ${c.tokens} tokens (${c.pages} pages of ${c.pageSize}; ${c.rowTokens} per request without max_tokens, context ${c.contextLength}); Ctrl-C stops`,
      );
      await untilSignal();
      console.error('stopping: ending running requests');
      await server.close();
    } finally {
      await engine.dispose();
    }
  });
}

/** --allow-host, --cors and --api-key, checked. */
function accessOptions(o: ServeCliOptions): Pick<ServerOptions, 'allowedHosts' | 'corsOrigins' | 'apiKey'> {
  for (const name of o.allowHost) {
    if (!HOST_NAME.test(name)) throw new InputError('--allow-host', `'${name}' is not a host name (a DNS name, an IP address or *)`);
  }
  for (const origin of o.cors) {
    if (origin !== '*' && normalizeOrigin(origin) === null) {
      throw new InputError('--cors', `'${origin}' is not an origin: give scheme://host[:port] as the browser shows it (http://localhost:3000), or *`);
    }
  }
  if (o.apiKey !== undefined && o.apiKey.trim() === '') throw new InputError('--api-key', 'is empty (or DEEPSEEK_WEBGPU_API_KEY is set but empty)');
  return { allowedHosts: o.allowHost, corsOrigins: o.cors, apiKey: o.apiKey };
}

/** startServer, with the usual socket errors turned into messages that name the option. */
async function listen(engine: Engine, options: ServerOptions): Promise<OpenAiServer> {
  // Loaded on use, as the engine is (see loadModelFromCli).
  const { startServer } = await import('../server/server.ts');
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
