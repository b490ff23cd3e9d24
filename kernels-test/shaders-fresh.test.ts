import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generatedPath, renderShaderModule } from '../tools/embed-shaders.ts';

it('src/gpu/shaders.gen.ts matches shaders/*.wgsl (run `npm run shaders` after editing a shader)', () => {
  expect(readFileSync(generatedPath, 'utf8')).toBe(renderShaderModule());
});
