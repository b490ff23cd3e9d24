// The demo page: adapter info, loading a checkpoint over HTTP (range requests, kept in the Cache API) or from a
// picked folder with its download / upload / compile progress, and streaming generation with speed and MTP
// acceptance, or a conversation whose history is kept (Engine.chat()). A load that fails leaves the model
// loaded before it in use. Built by tools/build-browser.ts into dist/demo/main.js, which imports the library
// bundle (dist/browser/deepseek-webgpu.js) at run time.
//
// <body data-state> tells tests where the page is: starting | no-webgpu | idle | loading | ready |
// generating | done | error.
import {
  clearModelCache,
  createGpu,
  describeSampling,
  loadModel,
  samplingInUse,
  type ChatSession,
  type Engine,
  type GenerateResult,
  type Generation,
  type Gpu,
  type LoadPhase,
} from '../src/index.ts';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo: no #${id} in the page`);
  return el as T;
};

const ui = {
  adapter: $<HTMLPreElement>('adapter'),
  url: $<HTMLInputElement>('model-url'),
  load: $<HTMLButtonElement>('load'),
  files: $<HTMLInputElement>('model-files'),
  progress: $<HTMLProgressElement>('progress'),
  loadStatus: $<HTMLSpanElement>('load-status'),
  useCache: $<HTMLInputElement>('use-cache'),
  clearCache: $<HTMLButtonElement>('clear-cache'),
  cacheStatus: $<HTMLSpanElement>('cache-status'),
  newChat: $<HTMLButtonElement>('new-chat'),
  modelInfo: $<HTMLDivElement>('model-info'),
  generateBox: $<HTMLFieldSetElement>('generate-box'),
  prompt: $<HTMLTextAreaElement>('prompt'),
  chat: $<HTMLInputElement>('chat'),
  maxNewTokens: $<HTMLInputElement>('max-new-tokens'),
  temperature: $<HTMLInputElement>('temperature'),
  topP: $<HTMLInputElement>('top-p'),
  samplingDefaults: $<HTMLDivElement>('sampling-defaults'),
  seed: $<HTMLInputElement>('seed'),
  mtp: $<HTMLInputElement>('mtp'),
  generate: $<HTMLButtonElement>('generate'),
  stop: $<HTMLButtonElement>('stop'),
  output: $<HTMLDivElement>('output'),
  stats: $<HTMLDivElement>('stats'),
};

let gpu: Gpu | undefined;
let engine: Engine | undefined;
let abort: AbortController | undefined;
/** The conversation while the chat box is ticked; dropped by "New conversation", unticking or a new model. */
let conversation: { chat: ChatSession; turns: HTMLElement[]; shown: string } | undefined;

function setState(state: string): void {
  document.body.dataset.state = state;
}

function showError(where: HTMLElement, e: unknown): void {
  const err = e as Error;
  where.replaceChildren(Object.assign(document.createElement('span'), { className: 'error', textContent: `${err?.name ?? 'Error'}: ${err?.message ?? e}` }));
  console.error(e);
  setState('error');
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function start(): Promise<void> {
  if (!('gpu' in navigator)) {
    ui.adapter.replaceChildren(
      Object.assign(document.createElement('span'), {
        className: 'error',
        textContent:
          `WebGPU is not available in this browser (no navigator.gpu${window.isSecureContext ? '' : '; pages must be served over https or from localhost'}). ` +
          'Use Chrome or Edge 113+, Safari 26+ or Firefox 141+; on a machine without a GPU driver, Chromium started with --enable-unsafe-webgpu runs WebGPU on the CPU (SwiftShader).',
      }),
    );
    ui.load.disabled = true;
    setState('no-webgpu');
    return;
  }
  try {
    gpu = await createGpu({ label: 'demo' });
  } catch (e) {
    showError(ui.adapter, e);
    ui.load.disabled = true;
    setState('no-webgpu');
    return;
  }
  const a = gpu.adapterInfo;
  const l = gpu.limits;
  ui.adapter.textContent = [
    `${a.vendor || '(vendor not reported)'} · ${a.architecture || '?'}${a.description ? ` · ${a.description}` : ''}${a.isFallbackAdapter ? ' · fallback (CPU) adapter' : ''}`,
    `features: ${gpu.features.join(', ') || '(none)'}`,
    `maxBufferSize ${mb(l.maxBufferSize)} · maxStorageBufferBindingSize ${mb(l.maxStorageBufferBindingSize)} · ` +
      `storage buffers per stage ${l.maxStorageBuffersPerShaderStage} · workgroup memory ${l.maxComputeWorkgroupStorageSize} B`,
  ].join('\n');
  setState('idle');
}

/** What each load phase has done so far, as one status line. */
function describeProgress(seen: Map<LoadPhase, [number, number]>): string {
  const parts: string[] = [];
  const download = seen.get('download');
  const upload = seen.get('upload');
  const compile = seen.get('compile');
  if (download) parts.push(`downloaded ${mb(download[0])} of ${mb(download[1])}`);
  if (upload) parts.push(`on the GPU ${mb(upload[0])} of ${mb(upload[1])}`);
  if (compile) parts.push(`compiling pipelines (warm-up step ${compile[0]} of ${compile[1]})`);
  return parts.join(' · ');
}

/** Loads a model; the one loaded before stays in use until the new one is ready, and if the new one fails. */
async function load(from: string | FileList): Promise<void> {
  if (!gpu) return;
  ui.load.disabled = true;
  ui.progress.value = 0;
  const previous = engine;
  setState('loading');
  const t0 = performance.now();
  const seen = new Map<LoadPhase, [number, number]>();
  try {
    ui.loadStatus.textContent = 'reading config and checkpoint headers ...';
    const next = await loadModel(from, {
      gpu,
      cache: ui.useCache.checked,
      onProgress: (done, total, phase) => {
        seen.set(phase, [done, total]);
        // The bar follows the upload (the download runs ahead of it), then the warm-up steps.
        if (phase !== 'download') ui.progress.value = total ? (phase === 'compile' ? 0.9 + (0.1 * done) / total : (0.9 * done) / total) : 0;
        ui.loadStatus.textContent = describeProgress(seen);
      },
    });
    abort?.abort();
    await previous?.dispose(); // the device is the page's, so it survives
    engine = next;
    conversation = undefined;
    const c = next.config;
    const p = next.parameters;
    const seconds = (performance.now() - t0) / 1000;
    ui.progress.value = 1;
    ui.loadStatus.textContent = `loaded in ${seconds.toFixed(1)} s (${describeProgress(seen)})`;
    ui.modelInfo.textContent =
      `${next.folder.folder.name}: ${c.architecture} (${c.modelType}), ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ` +
      `${c.nRoutedExperts} routed experts (top ${c.numExpertsPerTok}), ${(p.total / 1e6).toFixed(1)} M parameters` +
      `${c.numNextnPredictLayers ? ', MTP head' : ''}${c.quantization ? ', FP8 weights' : ''}` +
      `${next.tokenizer ? '' : ' · no tokenizer: give the prompt as token ids, e.g. 5, 17, 42'}`;
    showSamplingDefaults(next);
    ui.mtp.disabled = !c.numNextnPredictLayers;
    ui.chat.disabled = !next.tokenizer;
    ui.generateBox.disabled = false;
    setState('ready');
  } catch (e) {
    showError(ui.loadStatus, e);
    if (previous) ui.loadStatus.append(` (still using ${previous.folder.folder.name})`);
    ui.progress.value = previous ? 1 : 0;
  } finally {
    ui.load.disabled = false;
  }
}

/** Empty sampling fields mean the model's own settings (generation_config.json); their placeholders show them. */
function showSamplingDefaults(model: Engine): void {
  const d = model.generationDefaults;
  ui.temperature.value = '';
  ui.topP.value = '';
  ui.temperature.placeholder = String(d.temperature ?? 0);
  ui.topP.placeholder = String(d.topP ?? 1);
  const inUse = describeSampling(samplingInUse({}, d), d.source);
  ui.samplingDefaults.textContent = d.source ? `the model's defaults: ${inUse}; empty fields use them` : 'no generation_config.json: greedy unless a temperature is given';
}

/** A number field's value, or undefined when it is empty (the model's default then applies). */
const numberOrDefault = (input: HTMLInputElement): number | undefined => (input.value.trim() === '' ? undefined : Number(input.value));

function describeStats(s: GenerateResult['stats'], finish: string, sampling: string): string {
  const parts = [
    sampling,
    `prefill ${s.promptTokens} tokens, ${s.prefillTokensPerSecond.toFixed(1)} tok/s`,
    `decode ${s.generatedTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tok/s`,
  ];
  if (s.speculative === 'mtp') {
    parts.push(`MTP acceptance ${(100 * s.acceptanceRate).toFixed(1)}% (${s.accepted}/${s.drafted}), ${s.tokensPerStep.toFixed(2)} tokens/step`);
  } else {
    parts.push('no speculative decoding');
  }
  return `${parts.join(' · ')} · ${finish}`;
}

/**
 * The generation for the prompt box: plain text (or token ids without a tokenizer), or the next turn of the
 * conversation; `shown` is what the output shows before the answer (the chat prompt as the template renders it).
 */
function startGeneration(model: Engine, options: Parameters<Engine['generate']>[1]): { gen: Generation; shown: string } {
  const text = ui.prompt.value;
  if (!model.tokenizer) {
    const tokens = text.split(/[\s,]+/).filter(Boolean).map(Number);
    return { gen: model.generate({ tokens }, options), shown: tokens.join(' ') };
  }
  if (!ui.chat.checked) return { gen: model.generate(text, options), shown: text };
  conversation ??= { chat: model.chat(), turns: [], shown: '' };
  // The template renders the history as before (the answers' end tokens added): show only what is new.
  const rendered = model.renderChat([...conversation.chat.messages, { role: 'user', content: text }]);
  const shown = rendered.startsWith(conversation.shown) ? rendered.slice(conversation.shown.length) : rendered;
  return { gen: conversation.chat.send(text, options), shown };
}

async function run(): Promise<void> {
  const model = engine;
  if (!model) return;
  abort = new AbortController();
  ui.generate.disabled = true;
  ui.stop.disabled = false;
  ui.stats.textContent = '';
  const turn = Object.assign(document.createElement('div'), { className: 'turn' });
  const shown = Object.assign(document.createElement('span'), { className: 'prompt' });
  const generated = document.createElement('span');
  turn.append(shown, generated);
  setState('generating');
  try {
    const explicit = { temperature: numberOrDefault(ui.temperature), topP: numberOrDefault(ui.topP) };
    const seed = Number(ui.seed.value) || 0;
    const inUse = samplingInUse(explicit, model.generationDefaults);
    const sampling = `${describeSampling(inUse, model.generationDefaults.source)}${inUse.temperature > 0 ? ` · seed ${seed}` : ''}`;
    const { gen, shown: promptText } = startGeneration(model, {
      maxNewTokens: Number(ui.maxNewTokens.value) || 48,
      ...explicit,
      seed,
      speculative: ui.mtp.checked && !ui.mtp.disabled ? 'mtp' : 'none',
      signal: abort.signal,
    });
    shown.textContent = promptText;
    // A conversation shows every turn; a plain generation replaces the output.
    if (conversation && ui.chat.checked) {
      conversation.turns.push(turn);
      ui.output.replaceChildren(...conversation.turns);
    } else {
      ui.output.replaceChildren(turn);
    }
    const t0 = performance.now();
    let count = 0;
    for await (const { token, text } of gen) {
      if (token !== null) count++;
      generated.textContent += model.tokenizer ? text : token !== null ? ` ${token}` : '';
      ui.stats.textContent = `${count} tokens, ${(count / ((performance.now() - t0) / 1000)).toFixed(1)} tok/s ...`;
    }
    const result = await gen.result;
    if (conversation && ui.chat.checked) conversation.shown = ui.output.textContent ?? '';
    ui.stats.textContent = describeStats(result.stats, result.finishReason, sampling);
    setState('done');
  } catch (e) {
    showError(ui.stats, e);
  } finally {
    ui.generate.disabled = false;
    ui.stop.disabled = true;
  }
}

ui.load.addEventListener('click', () => void load(ui.url.value.trim()));
ui.url.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') void load(ui.url.value.trim());
});
ui.files.addEventListener('change', () => {
  if (ui.files.files?.length) void load(ui.files.files);
});
ui.generate.addEventListener('click', () => void run());
ui.stop.addEventListener('click', () => abort?.abort());
const forgetConversation = () => {
  conversation = undefined;
  ui.output.replaceChildren();
  ui.stats.textContent = '';
};
ui.newChat.addEventListener('click', forgetConversation);
ui.chat.addEventListener('change', forgetConversation);
ui.clearCache.addEventListener('click', () => {
  clearModelCache().then(
    (had) => (ui.cacheStatus.textContent = had ? 'cleared: the next load downloads again' : 'the cache was empty'),
    (e: unknown) => showError(ui.cacheStatus, e),
  );
});

// ?autoload=0 leaves loading to the user; by default the URL in the field is loaded at once.
await start();
if (gpu && new URLSearchParams(location.search).get('autoload') !== '0') await load(ui.url.value.trim());
