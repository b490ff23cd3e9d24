// The CPU reference against DeepSeek's official inference code (golden outputs vendored with the fixtures,
// computed in float32 by inference/model.py; see each fixture's golden.json).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelFolder, type ModelFolder } from '../checkpoint/model-folder.ts';
import { nodeFolder, openCheckpointDir } from '../checkpoint/sources/node-file.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { argmax, describeDiff, relL2 } from '../../kernels-test/helpers/compare.ts';
import { ReferenceModel } from './model.ts';

// golden.json: suggested_tolerances = 1e-5 per row, ~10x above the float32 noise of the reference itself
// (naive vs absorbed, prefill vs incremental move it by ~1e-6); every convention mistake moves it by >= 0.1.
const ROW_TOL = 1e-5;

function expectRowsMatch(actual: ArrayLike<number>, golden: Float32Array, rows: number, what: string) {
  const width = golden.length / rows;
  for (let r = 0; r < rows; r++) {
    const a = Array.prototype.slice.call(actual, r * width, (r + 1) * width) as number[];
    const g = golden.subarray(r * width, (r + 1) * width);
    const err = relL2(a, g);
    expect(err, `${what} row ${r}: relL2 ${err}\n${describeDiff(a, g, 1e-5)}`).toBeLessThanOrEqual(ROW_TOL);
    expect(argmax(a), `${what} row ${r} argmax`).toBe(argmax(g));
  }
}

const FOLDERS = ['kernels-test/fixtures/tiny-v3', 'kernels-test/fixtures/tiny-v2lite', 'weights/tiny-v3-trained'];

for (const dir of FOLDERS) {
  describe(`reference model vs official outputs: ${dir}`, () => {
    let model: ModelFolder;
    let golden: Checkpoint;
    let ref: ReferenceModel;

    beforeAll(async () => {
      model = await openModelFolder(nodeFolder(dir));
      golden = await openCheckpointDir(dir, { file: 'golden.safetensors' });
      ref = await ReferenceModel.load(model.checkpoint, model.config);
    });
    afterAll(async () => {
      await model?.checkpoint.close();
      await golden?.close();
    });

    for (const k of [0, 1, 2, 3]) {
      it(`seq${k}: logits, final hidden state and MTP logits where the model has them`, async () => {
        const tokens = Array.from(await golden.readIntegers(`seq${k}.tokens`));
        const T = tokens.length;
        const state = ref.newState();
        const { logits, hidden } = ref.forward(state, tokens);
        expectRowsMatch(logits, await golden.readF32(`seq${k}.logits`), T, `seq${k}.logits`);
        expectRowsMatch(hidden, await golden.readF32(`seq${k}.hidden_final_norm`), T, `seq${k}.hidden_final_norm`);
        if (model.config.numNextnPredictLayers && T > 1) {
          const H = model.config.hiddenSize;
          const mtp = ref.mtp(state, hidden.subarray(0, (T - 1) * H), tokens.slice(1));
          expectRowsMatch(mtp, await golden.readF32(`seq${k}.mtp_logits`), T - 1, `seq${k}.mtp_logits`);
        }
      });
    }

    it('greedy continuation: prompt prefilled at once, then one token per step', async () => {
      const prompt = Array.from(await golden.readIntegers('greedy.prompt'));
      const expected = Array.from(await golden.readIntegers('greedy.tokens'));
      const V = model.config.vocabSize;
      const state = ref.newState();
      let { logits } = ref.forward(state, prompt);
      let last = logits.subarray(logits.length - V);
      const tokens: number[] = [];
      while (tokens.length < expected.length) {
        tokens.push(argmax(last));
        last = ref.forward(state, [tokens.at(-1)!]).logits;
      }
      expect(tokens).toEqual(expected);
    });
  });
}
