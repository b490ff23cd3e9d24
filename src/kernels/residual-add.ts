// h += delta over n floats: shaders/residual-add.wgsl.
import { defineKernel, expectBytes } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';
import type { Bindable, Recorder } from '../gpu/recorder.ts';
import { grid2d, MAX_GROUPS_PER_DIM } from './grid.ts';

const kernel = defineKernel({
  shader: 'residual-add',
  bindings: { delta: 'read', h: 'read_write' },
  params: { n: 'u32', groups_x: 'u32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ delta, h }, p) => {
    expectBytes('residual-add', 'delta', delta, p.n * 4);
    expectBytes('residual-add', 'h', h, p.n * 4);
  },
  grid: (p, o) => grid2d(Math.ceil(p.n / o.WG_SIZE), p.groups_x),
});

export const residualAdd = {
  spec: kernel.spec,
  record(rec: Recorder, buffers: { delta: Bindable; h: Bindable }, p: { n: number }): void {
    kernel.record(rec, buffers, { n: p.n, groups_x: MAX_GROUPS_PER_DIM });
  },
};
