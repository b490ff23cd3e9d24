// Buffer copy through a shader: shaders/copy.wgsl. Used as the bandwidth ceiling in benchmarks.
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';

export const copy = defineKernel({
  shader: 'copy',
  bindings: { src: 'read', dst: 'read_write' },
  params: { n: 'u32', groups_x: 'u32' },
  overrides: {},
  launch: (k) => ({ WG_SIZE: k('WG_SIZE'), PER_THREAD: k('PER_THREAD') }),
  check: ({ src, dst }, p) => {
    expectBytes('copy', 'src', src, p.n * 16);
    expectBytes('copy', 'dst', dst, p.n * 16);
  },
  grid: (p, o) => grid2d(Math.ceil(p.n / (o.WG_SIZE * o.PER_THREAD)), p.groups_x),
});

/** Params for copying `vec4s` vec4 elements. */
export function copyParams(vec4s: number): { n: number; groups_x: number } {
  return { n: vec4s, groups_x: MAX_GROUPS_PER_DIM }; // wraps into y only past this many workgroups
}
