// Perplexity end to end on the embedded model and its held-out text (eval/README.md). Every run scores the
// first two windows on the GPU against the figures of the CPU reference, an independent float64
// implementation of the model, to 1e-5 nats/token. The whole file (180 windows, the training code's figure
// to 1e-4) takes 6 to 15 minutes on a 2-core CPU adapter, so it runs only with FULL_EVAL=1, which also
// recomputes the reference's figures.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder } from '../src/checkpoint/sources/node-file.ts';
import type { Engine } from '../src/engine.ts';
import { DEFAULT_MODEL_DIR, loadModel } from '../src/engine-node.ts';
import { documentStream, splitDocuments } from '../src/eval/documents.ts';
import { perplexity } from '../src/eval/perplexity.ts';
import { ReferenceModel } from '../src/reference/model.ts';
import { FIRST_TWO_WINDOWS, HELDOUT_FIGURES, HELDOUT_FILE, referenceWindowModel } from './helpers/eval.ts';
import { getTestGpu } from './helpers/gpu.ts';

const gpu = await getTestGpu();
const text = readFileSync(HELDOUT_FILE, 'utf8');
const FULL = process.env.FULL_EVAL === '1';

describe.skipIf(!gpu)('perplexity of tiny-v3-trained on its held-out text', () => {
  let engine: Engine;
  // One submission per window: the forward pass takes all 257 rows at once.
  beforeAll(async () => void (engine = await loadModel(undefined, { gpu: gpu!, prefillChunk: 257 })));
  afterAll(async () => engine?.dispose());

  it('the stream: 40 documents, each [bos 0] + ids + [eos 1], 46,226 tokens', () => {
    const documents = splitDocuments(text);
    expect(documents).toHaveLength(40);
    const stream = documentStream(documents, (d) => engine.tokenizer!.encode(d, { addBos: false }), { bos: 0, eos: 1 });
    expect(stream).toHaveLength(46_226);
    expect(stream.filter((t) => t === 0)).toHaveLength(40);
  });

  it("the first two windows: the GPU engine gives the CPU reference's figures to 1e-5 nats/token, next token and MTP", async () => {
    const r = await engine.perplexity(text, { mtp: true, maxWindows: 2 });
    expect(r.tokens).toBe(512);
    expect(r.mtp!.predictions).toBe(510);
    expect(Math.abs(r.nats - FIRST_TWO_WINDOWS.nats)).toBeLessThanOrEqual(1e-5); // measured 6e-8
    expect(Math.abs(r.mtp!.nats - FIRST_TWO_WINDOWS.mtpNats)).toBeLessThanOrEqual(1e-5); // measured 1.3e-8
  });

  it('text, its documents and its token stream are the same input', async () => {
    const documents = splitDocuments(text);
    const tokens = documentStream(documents, (d) => engine.tokenizer!.encode(d, { addBos: false }), { bos: 0, eos: 1 });
    const options = { window: 16, maxWindows: 1 };
    const fromText = await engine.perplexity(text, options);
    expect(await engine.perplexity(documents, options)).toEqual(fromText);
    expect(await engine.perplexity({ tokens }, options)).toEqual(fromText);
  });

  it.runIf(FULL)('the recorded two-window figures are what the CPU reference computes', async () => {
    const folder = await openModelFolder(nodeFolder(DEFAULT_MODEL_DIR));
    const ref = await ReferenceModel.load(folder.checkpoint, folder.config, { mtp: true });
    await folder.checkpoint.close();
    const stream = documentStream(splitDocuments(text), (d) => engine.tokenizer!.encode(d, { addBos: false }), { bos: 0, eos: 1 });
    const want = await perplexity(referenceWindowModel(ref), stream, { mtp: true, maxWindows: 2 });
    expect(Math.abs(want.nats - FIRST_TWO_WINDOWS.nats)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(want.mtp!.nats - FIRST_TWO_WINDOWS.mtpNats)).toBeLessThanOrEqual(1e-9);
  });

  it.runIf(FULL)(
    "the whole file reproduces the training code's figures to 1e-4",
    async () => {
      const start = performance.now();
      const r = await engine.perplexity(text, { mtp: true });
      const seconds = (performance.now() - start) / 1000;
      console.log(`held-out: ${r.nats} nats/token, MTP ${r.mtp!.nats}, ${r.tokens} tokens in ${r.windows} windows, ${seconds.toFixed(1)} s`);
      expect(r.tokens).toBe(HELDOUT_FIGURES.tokens);
      expect(Math.abs(r.nats - HELDOUT_FIGURES.nats)).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(r.mtp!.nats - HELDOUT_FIGURES.mtpNats)).toBeLessThanOrEqual(1e-4);
    },
    3_600_000,
  );
});
