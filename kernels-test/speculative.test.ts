// Speculative decoding with the MTP head is lossless: greedy output is token for token that of plain
// decoding, for several prompts, lengths and draft counts, at the context limit and at EOS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../src/checkpoint/checkpoint.ts';
import { openModelFolder, type ModelFolder } from '../src/checkpoint/model-folder.ts';
import { nodeFolder, openCheckpointDir } from '../src/checkpoint/sources/node-file.ts';
import { generate, type GenerateOptions, type GenerateResult } from '../src/decode/generate.ts';
import type { SampleRequest } from '../src/decode/causal-lm.ts';
import { DeepseekModel } from '../src/model/deepseek-model.ts';
import { describeDiff, relL2 } from './helpers/compare.ts';
import { getTestGpu } from './helpers/gpu.ts';

const gpu = await getTestGpu();

async function run(model: DeepseekModel, prompt: number[], options: GenerateOptions): Promise<GenerateResult> {
  model.truncate(0);
  const gen = generate(model, prompt, options);
  for await (const _ of gen);
  return gen.result;
}

describe.skipIf(!gpu).each(['kernels-test/fixtures/tiny-v3', 'weights/tiny-v3-trained'])('speculative decoding on %s', (dir) => {
  let folder: ModelFolder;
  let golden: Checkpoint;
  let model: DeepseekModel;
  let prompts: number[][];
  beforeAll(async () => {
    folder = await openModelFolder(nodeFolder(dir));
    golden = await openCheckpointDir(dir, { file: 'golden.safetensors' });
    model = await DeepseekModel.load(gpu!, folder, { prefillChunk: 16, contextLength: 96 });
    const seq3 = Array.from(await golden.readIntegers('seq3.tokens'));
    prompts = [Array.from(await golden.readIntegers('greedy.prompt')), seq3.slice(0, 1), seq3.slice(0, 33)];
  });
  afterAll(async () => {
    model?.dispose();
    await folder?.checkpoint.close();
    await golden?.close();
  });

  it('greedy: the golden continuation with 1 and 2 drafts per step', async () => {
    const expected = Array.from(await golden.readIntegers('greedy.tokens'));
    for (const draftTokens of [1, 2]) {
      const r = await run(model, prompts[0], { maxNewTokens: 40, eosTokenIds: [], speculative: 'mtp', draftTokens });
      expect(r.tokens, `${draftTokens} drafts`).toEqual(expected);
      expect(r.stats.speculative).toBe('mtp');
      expect(r.stats.drafted).toBeGreaterThan(0);
    }
  });

  it('greedy: equal to plain decoding for other prompts and lengths', async () => {
    for (const prompt of prompts.slice(1)) {
      for (const maxNewTokens of [1, 2, 7]) {
        const plain = await run(model, prompt, { maxNewTokens, eosTokenIds: [], speculative: 'none' });
        const spec = await run(model, prompt, { maxNewTokens, eosTokenIds: [], speculative: 'mtp', draftTokens: 3 });
        expect(spec.tokens, `prompt of ${prompt.length}, ${maxNewTokens} tokens`).toEqual(plain.tokens);
      }
    }
  });

  it('at the context limit: the same tokens and the same finish', async () => {
    // 96 positions, a 33-token prompt: drafts must shrink and stop exactly where plain decoding stops
    const plain = await run(model, prompts[2], { maxNewTokens: 200, eosTokenIds: [], speculative: 'none' });
    const spec = await run(model, prompts[2], { maxNewTokens: 200, eosTokenIds: [], speculative: 'mtp', draftTokens: 2 });
    expect(plain.finishReason).toBe('context');
    expect(spec.finishReason).toBe('context');
    expect(spec.tokens).toEqual(plain.tokens);
  });

  it('at EOS: stops at the same token, also when the EOS id is an accepted draft', async () => {
    const plain = await run(model, prompts[0], { maxNewTokens: 30, eosTokenIds: [], speculative: 'none' });
    for (const at of [3, 11, 20]) {
      const eos = plain.tokens[at];
      const first = plain.tokens.indexOf(eos);
      const spec = await run(model, prompts[0], { maxNewTokens: 30, eosTokenIds: [eos], speculative: 'mtp', draftTokens: 2 });
      expect(spec.finishReason).toBe('eos');
      expect(spec.tokens).toEqual(plain.tokens.slice(0, first));
    }
  });

  it("drafts: the MTP's logits of the last pending row, as if every row had run through the MTP layer", async () => {
    // A speculative step runs only the last pending row through the MTP layer (the others, and prefill's rows,
    // only fill the MTP cache). Its draft logits must equal appendMtpLogits, which runs every row in full,
    // for 1 pending row (after prefill) and 2 (after an accepted draft). Same f32 kernels and row-wise math:
    // relL2 <= 1e-5 (f32 noise is ~1e-7; a wrong cache row or position moves the logits by >= 1e-2).
    const greedy: SampleRequest = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0 };
    const prompt = prompts[2].slice(0, 21); // two prefill chunks of 16
    const spec = model.speculator()!;
    model.truncate(0);
    const t = await spec.prefill(prompt, greedy);
    const first = await spec.step(t, [greedy], [greedy, greedy], true);
    spec.commit(first, 1, first.predictions[1]); // keep d1 (right or not), pending [d1, next]
    const second = await spec.step(first.predictions[1], [greedy], [greedy, greedy], true);
    spec.reset();

    const H = model.config.hiddenSize;
    const V = model.config.vocabSize;
    const seq = [...prompt, t, first.drafts[0], first.predictions[1]];
    const { hidden } = await model.appendOutputs(seq.slice(0, -1));
    model.truncate(0);
    const mtp = await model.appendMtpLogits(hidden, seq.slice(1)); // row i predicts seq[i + 2]
    model.truncate(0);
    for (const [step, row] of [[first, prompt.length - 1], [second, prompt.length + 1]] as const) {
      const want = mtp.subarray(row * V, (row + 1) * V);
      const err = relL2(step.draftLogits!, want);
      expect(err, `draft after row ${row}: relL2 ${err}\n${describeDiff(step.draftLogits!, want, 1e-5)}`).toBeLessThanOrEqual(1e-5);
    }
    expect(hidden.length).toBe((seq.length - 1) * H);
  });

  it('sampling: reproducible for a seed', async () => {
    const options: GenerateOptions = { maxNewTokens: 12, eosTokenIds: [], speculative: 'mtp', temperature: 0.9, topP: 0.95, seed: 11 };
    const a = await run(model, prompts[0], options);
    const b = await run(model, prompts[0], options);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).toHaveLength(12);
  });
});
