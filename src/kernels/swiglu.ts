// SwiGLU over a fused [gate ; up] row: shaders/swiglu.wgsl. Reference: src/reference/swiglu.ts.
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';

const swigluKernel = defineKernel({
  shader: 'swiglu',
  bindings: { gate_up: 'read', out: 'read_write' },
  params: { rows: 'u32', width: 'u32', groups_x: 'u32' },
  overrides: { WG_SIZE: 256 },
  check: ({ gate_up, out }, p) => {
    expectBytes('swiglu', 'gate_up', gate_up, p.rows * 2 * p.width * 4);
    expectBytes('swiglu', 'out', out, p.rows * p.width * 4);
  },
  grid: (p, o) => grid2d(Math.ceil((p.rows * p.width) / o.WG_SIZE), p.groups_x),
});

export const swiglu = {
  spec: swigluKernel.spec,
  record(
    rec: Parameters<typeof swigluKernel.record>[0],
    buffers: Parameters<typeof swigluKernel.record>[1],
    p: { rows: number; width: number },
  ): void {
    swigluKernel.record(rec, buffers, { ...p, groups_x: MAX_GROUPS_PER_DIM });
  },
};
