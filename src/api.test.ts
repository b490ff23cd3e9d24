// The README's library example, imported by package name as a user would.
import { expect, it } from 'vitest';
import { ConfigError, loadModel, nodeFolder, openModelFolder, parseModelConfig, ReferenceModel } from 'deepseek-webgpu';

it('README library example runs and gives [T, vocab] logits', async () => {
  const { config, checkpoint } = await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3'));
  const model = await ReferenceModel.load(checkpoint, config);
  const { logits } = model.forward(model.newState(), [5, 17, 42]);
  await checkpoint.close();
  expect(logits.length).toBe(3 * config.vocabSize);
  expect(logits.every(Number.isFinite)).toBe(true);
  expect(() => parseModelConfig({}, 'x.json')).toThrow(ConfigError);
});

it('README quick library example: loadModel() and generate() stream English text', async () => {
  const model = await loadModel(); // the embedded tiny-v3-trained
  let text = '';
  const gen = model.generate('In the beginning', { maxNewTokens: 12 });
  for await (const chunk of gen) text += chunk.text;
  const { stats, finishReason } = await gen.result;
  await model.dispose();
  expect(text).toMatch(/[a-zA-Z]{2}/); // sampled (the model's generation_config.json), so only loosely English
  expect(finishReason).toBe('length');
  expect(stats.generatedTokens).toBe(12);
  expect(stats.speculative).toBe('mtp');
});
