import { describe, expect, it } from 'vitest';
import { ShaderError } from '../errors.ts';
import { expandShader } from './shaders.ts';

const sources = {
  main: 'a\n#include "common/x.wgsl"\n#if F16\nenable f16;\n#else\nno f16\n#endif\nz',
  'common/x': 'x1\nx2',
  loop: '#include "loop.wgsl"',
  open: '#if A\nq',
};

describe('expandShader', () => {
  it('inlines includes, applies flags and maps lines back to their files', () => {
    const s = expandShader('main', {}, sources);
    expect(s.code).toBe('a\nx1\nx2\nno f16\nz');
    expect(s.origin[1]).toEqual({ file: 'common/x.wgsl', line: 1 });
    expect(s.origin[3]).toEqual({ file: 'main.wgsl', line: 6 });
    expect(expandShader('main', { F16: true }, sources).code).toBe('a\nx1\nx2\nenable f16;\nz');
  });

  it('names the file for missing, recursive and unbalanced shaders', () => {
    expect(() => expandShader('nope', {}, sources)).toThrow(ShaderError);
    expect(() => expandShader('loop', {}, sources)).toThrow(/includes itself/);
    expect(() => expandShader('open', {}, sources)).toThrow(/open.wgsl: 1 #if without #endif/);
  });
});
