// SwiGLU over n elements: out = silu(gate) * up. shaders/swiglu.wgsl. Reference: src/reference/swiglu.ts.
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';

const kernel = defineKernel({
  shader: 'swiglu',
  bindings: { gate: 'read', up: 'read', out: 'read_write' },
  params: { n: 'u32', groups_x: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ gate, up, out }, p) => {
    for (const [name, b] of [['gate', gate], ['up', up], ['out', out]] as const) expectBytes('swiglu', name, b, p.n * 4);
  },
  grid: (p, o) => grid2d(Math.ceil(p.n / o.WG_SIZE), p.groups_x),
});

export const swiglu = {
  spec: kernel.spec,
  record(rec: Recorder, buffers: { gate: Bindable; up: Bindable; out: Bindable }, p: { n: number }): void {
    kernel.record(rec, buffers, { n: p.n, groups_x: MAX_GROUPS_PER_DIM });
  },
};
