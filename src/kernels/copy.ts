// Buffer copy through a shader: shaders/copy.wgsl. Used as the bandwidth ceiling in benchmarks.
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { grid2d } from './grid.ts';

export const copy = defineKernel({
  shader: 'copy',
  bindings: { src: 'read', dst: 'read_write' },
  params: { n: 'u32', groups_x: 'u32' },
  overrides: { WG_SIZE: 256, PER_THREAD: 16 },
  check: ({ src, dst }, p) => {
    expectBytes('copy', 'src', src, p.n * 16);
    expectBytes('copy', 'dst', dst, p.n * 16);
  },
  grid: (p, o) => grid2d(Math.ceil(p.n / (o.WG_SIZE * o.PER_THREAD)), p.groups_x),
});

/** Params for copying `vec4s` vec4 elements. */
export function copyParams(vec4s: number, o = copy.spec.overrides): { n: number; groups_x: number } {
  const groups = Math.ceil(vec4s / (o.WG_SIZE * o.PER_THREAD));
  return { n: vec4s, groups_x: Math.min(groups, 65535) };
}
