// The README's library example, imported by package name as a user would.
import { expect, it } from 'vitest';
import { ConfigError, nodeFolder, openModelFolder, parseModelConfig, ReferenceModel } from 'deepseek-webgpu';

it('README library example runs and gives [T, vocab] logits', async () => {
  const { config, checkpoint } = await openModelFolder(nodeFolder('kernels-test/fixtures/tiny-v3'));
  const model = await ReferenceModel.load(checkpoint, config);
  const { logits } = model.forward(model.newState(), [5, 17, 42]);
  await checkpoint.close();
  expect(logits.length).toBe(3 * config.vocabSize);
  expect(logits.every(Number.isFinite)).toBe(true);
  expect(() => parseModelConfig({}, 'x.json')).toThrow(ConfigError);
});
