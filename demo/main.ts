// The demo page: adapter info, loading a checkpoint over HTTP (range requests) or from a picked folder, and
// streaming generation with speed and MTP acceptance. Built by tools/build-browser.ts into dist/demo/main.js,
// which imports the library bundle (dist/browser/deepseek-webgpu.js) at run time.
//
// <body data-state> tells tests where the page is: starting | no-webgpu | idle | loading | ready |
// generating | done | error.
import { createGpu, describeSampling, loadModel, samplingInUse, type Engine, type GenerateResult, type Gpu, type Prompt } from '../src/index.ts';

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

async function load(from: string | FileList): Promise<void> {
  if (!gpu) return;
  abort?.abort();
  ui.generateBox.disabled = true;
  ui.load.disabled = true;
  ui.modelInfo.textContent = '';
  ui.progress.value = 0;
  setState('loading');
  const t0 = performance.now();
  try {
    await engine?.dispose(); // the device is the page's, so it survives
    engine = undefined;
    ui.loadStatus.textContent = 'reading config and checkpoint headers ...';
    engine = await loadModel(from, {
      gpu,
      onProgress: (done, total, phase) => {
        ui.progress.value = total ? done / total : 0;
        ui.loadStatus.textContent = phase === 'compile' ? `compiling pipelines (warm-up step ${done} of ${total})` : `${phase === 'download' ? 'downloading' : 'uploading'} ${mb(done)} of ${mb(total)}`;
      },
    });
    const c = engine.config;
    const p = engine.parameters;
    const seconds = (performance.now() - t0) / 1000;
    ui.progress.value = 1;
    ui.loadStatus.textContent = `loaded in ${seconds.toFixed(1)} s`;
    ui.modelInfo.textContent =
      `${engine.folder.folder.name}: ${c.architecture} (${c.modelType}), ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ` +
      `${c.nRoutedExperts} routed experts (top ${c.numExpertsPerTok}), ${(p.total / 1e6).toFixed(1)} M parameters` +
      `${c.numNextnPredictLayers ? ', MTP head' : ''}${c.quantization ? ', FP8 weights' : ''}` +
      `${engine.tokenizer ? '' : ' · no tokenizer: give the prompt as token ids, e.g. 5, 17, 42'}`;
    showSamplingDefaults(engine);
    ui.mtp.disabled = !c.numNextnPredictLayers;
    ui.chat.disabled = !engine.tokenizer;
    ui.generateBox.disabled = false;
    setState('ready');
  } catch (e) {
    showError(ui.loadStatus, e);
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

function promptOf(model: Engine): Prompt {
  const text = ui.prompt.value;
  if (!model.tokenizer) return { tokens: text.split(/[\s,]+/).filter(Boolean).map(Number) };
  return ui.chat.checked ? [{ role: 'user', content: text }] : text;
}

function describeStats(s: GenerateResult['stats'], finish: string, sampling: string): string {
  const parts = [
    sampling,
    `prefill ${s.prompt_tokens} tokens, ${s.prefill_tokens_per_s.toFixed(1)} tok/s`,
    `decode ${s.generated_tokens} tokens, ${s.decode_tokens_per_s.toFixed(1)} tok/s`,
  ];
  if (s.speculative === 'mtp') {
    parts.push(`MTP acceptance ${(100 * s.acceptance_rate).toFixed(1)}% (${s.accepted}/${s.drafted}), ${s.tokens_per_step.toFixed(2)} tokens/step`);
  } else {
    parts.push('no speculative decoding');
  }
  return `${parts.join(' · ')} · ${finish}`;
}

async function run(): Promise<void> {
  const model = engine;
  if (!model) return;
  abort = new AbortController();
  ui.generate.disabled = true;
  ui.stop.disabled = false;
  ui.stats.textContent = '';
  const shown = document.createElement('span');
  shown.className = 'prompt';
  const generated = document.createElement('span');
  ui.output.replaceChildren(shown, generated);
  setState('generating');
  try {
    const prompt = promptOf(model);
    shown.textContent = typeof prompt === 'string' ? prompt : 'tokens' in prompt ? prompt.tokens.join(' ') : model.renderChat(prompt);
    const explicit = { temperature: numberOrDefault(ui.temperature), topP: numberOrDefault(ui.topP) };
    const seed = Number(ui.seed.value) || 0;
    const inUse = samplingInUse(explicit, model.generationDefaults);
    const sampling = `${describeSampling(inUse, model.generationDefaults.source)}${inUse.temperature > 0 ? ` · seed ${seed}` : ''}`;
    const gen = model.generate(prompt, {
      maxNewTokens: Number(ui.maxNewTokens.value) || 48,
      ...explicit,
      seed,
      speculative: ui.mtp.checked && !ui.mtp.disabled ? 'mtp' : 'none',
      signal: abort.signal,
    });
    const t0 = performance.now();
    let count = 0;
    for await (const { token, text } of gen) {
      if (token !== null) count++;
      generated.textContent += model.tokenizer ? text : token !== null ? ` ${token}` : '';
      ui.stats.textContent = `${count} tokens, ${(count / ((performance.now() - t0) / 1000)).toFixed(1)} tok/s ...`;
    }
    const result = await gen.result;
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

// ?autoload=0 leaves loading to the user; by default the URL in the field is loaded at once.
await start();
if (gpu && new URLSearchParams(location.search).get('autoload') !== '0') await load(ui.url.value.trim());
