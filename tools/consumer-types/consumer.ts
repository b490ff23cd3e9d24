// What a TypeScript user of the published package writes: src/package.test.ts compiles it against dist/'s
// .d.ts files with skipLibCheck off (tsconfig.json here), so types the declarations need but do not bring
// (WebGPU's GPU* names, say) fail the test instead of a user's build.
import {
  DEFAULT_MODEL_DIR,
  loadModel,
  startServer,
  type Engine,
  type EngineOptions,
  type GenerateOptions,
  type GenerateResult,
  type GenerateStats,
  type LoadModelOptions,
  type ModelLoadOptions,
  type PerplexityOptions,
  type SamplingOptions,
  type ServerOptions,
} from 'deepseek-webgpu';

export async function continueText(prompt: string): Promise<GenerateResult> {
  const load: LoadModelOptions = { fallback: 'auto', contextLength: 256 };
  const sampling: SamplingOptions = { temperature: 0.6, topP: 0.95, seed: 1 };
  const options: GenerateOptions = { ...sampling, maxNewTokens: 8, stopStrings: ['\n'] };
  const engine: Engine = await loadModel(DEFAULT_MODEL_DIR, load);
  try {
    const generation = engine.generate(prompt, options);
    for await (const event of generation) process.stdout.write(event.text);
    const result = await generation.result;
    const stats: GenerateStats = result.stats;
    console.error(stats.decodeTokensPerSecond, stats.acceptanceRate);
    return result;
  } finally {
    await engine.dispose();
  }
}

export async function serve(engine: Engine, options: ServerOptions): Promise<string> {
  const server = await startServer(engine, options);
  return server.url;
}

export const loadOptions: ModelLoadOptions & EngineOptions = {};
export const perplexityOptions: PerplexityOptions = { window: 128 };
