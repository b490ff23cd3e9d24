// The server tests' shared fixture (src/server/server-*.test.ts): the embedded tiny-v3-trained (it has a
// tokenizer and a chat template) loaded once per test file, served on a free port, with OpenAI's official
// client pointed at it; and the engine's own output the tests compare the server's with. Not shipped (package.json
// "files", tsconfig.build.json).
import OpenAI from 'openai';
import { afterAll, beforeAll, expect } from 'vitest';
import type { FolderSource } from '../checkpoint/byte-source.ts';
import type { GenerateOptions } from '../decode/generate.ts';
import { loadModel, startServer, type Engine, type LoadModelOptions, type OpenAiServer, type ServerOptions } from '../node.ts';

export const MESSAGES = [{ role: 'user' as const, content: 'What is a river?' }];
export const JSON_TYPE = { 'content-type': 'application/json' };

/** What /health answers (the fields the tests read). */
export interface Health {
  status: string;
  queue: { running: boolean; waiting: number };
  batch: Record<string, number> | null;
  cache: Record<string, number>;
  requests: Record<string, number>;
}

export interface TestServer {
  engine: Engine;
  server: OpenAiServer;
  client: OpenAI;
  /** GET /health, checked to answer 200. */
  health(): Promise<Health>;
}

/**
 * Registers this file's beforeAll (load the model, start the server) and afterAll (close, dispose). The returned
 * object's fields are set once beforeAll has run: read them inside tests, not at the file's top level.
 */
export function serveTestModel(options: ServerOptions, load: LoadModelOptions = {}): TestServer {
  const t = { health: () => serverHealth(t.server.url) } as TestServer;
  beforeAll(async () => {
    t.engine = await loadModel(undefined, load);
    t.server = await startServer(t.engine, { port: 0, ...options });
    t.client = new OpenAI({ baseURL: `${t.server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await t.server?.close();
    await t.engine?.dispose();
  });
  return t;
}

export async function serverHealth(url: string): Promise<Health> {
  const res = await fetch(`${url}/health`);
  expect(res.status).toBe(200);
  return (await res.json()) as Health;
}

/**
 * The engine's own output, greedy unless `extra` says otherwise. The server's batch samples one token per step
 * (MTP drafts only greedy requests), so a sampled request compares with generate() decoding plainly.
 */
export async function direct(e: Engine, prompt: Parameters<Engine['generate']>[0], maxNewTokens: number, extra: GenerateOptions = { temperature: 0 }) {
  const sampled = extra.temperature !== 0;
  const gen = e.generate(prompt, { maxNewTokens, ...extra, ...(sampled ? { speculative: 'none' as const } : {}) });
  for await (const _ of gen);
  return gen.result;
}

/** `base` with tokenizer_config.json's chat_template replaced. */
export function withChatTemplate(base: FolderSource, template: string): FolderSource {
  return {
    name: base.name,
    open: (file) => base.open(file),
    exists: (file) => base.exists(file),
    readText: async (file) => {
      const text = await base.readText(file);
      return file === 'tokenizer_config.json' ? JSON.stringify({ ...JSON.parse(text), chat_template: template }) : text;
    },
  };
}
