// RMSNorm over rows: shaders/rmsnorm.wgsl. Reference: src/reference/rmsnorm.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';
import { workgroupKnob } from '../gpu/launch-shapes.ts';

export const rmsnorm = defineKernel({
  shader: 'rmsnorm',
  bindings: { x: 'read', weight: 'read', out: 'read_write' },
  params: { rows: 'u32', dim: 'u32', eps: 'f32' },
  overrides: {},
  launch: workgroupKnob,
  check: ({ x, weight, out }, p, o) => {
    expectThat('rmsnorm', (o.WG_SIZE & (o.WG_SIZE - 1)) === 0, `WG_SIZE ${o.WG_SIZE} must be a power of two`);
    expectBytes('rmsnorm', 'x', x, p.rows * p.dim * 4);
    expectBytes('rmsnorm', 'weight', weight, p.dim * 4);
    expectBytes('rmsnorm', 'out', out, p.rows * p.dim * 4);
  },
  grid: (p) => [p.rows],
});
