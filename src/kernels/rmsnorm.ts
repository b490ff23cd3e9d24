// RMSNorm over rows: shaders/rmsnorm.wgsl. Reference: src/reference/rmsnorm.ts.
import { defineKernel, expectBytes, expectThat } from '../gpu/kernel.ts';

export const rmsnorm = defineKernel({
  shader: 'rmsnorm',
  bindings: { x: 'read', weight: 'read', out: 'read_write' },
  params: { rows: 'u32', dim: 'u32', eps: 'f32' },
  overrides: { WG_SIZE: 4 }, // one subgroup: barriers cost ~25 µs per subgroup on SwiftShader (shaders/rmsnorm.wgsl)
  check: ({ x, weight, out }, p, o) => {
    expectThat('rmsnorm', (o.WG_SIZE & (o.WG_SIZE - 1)) === 0, `WG_SIZE ${o.WG_SIZE} must be a power of two`);
    expectBytes('rmsnorm', 'x', x, p.rows * p.dim * 4);
    expectBytes('rmsnorm', 'weight', weight, p.dim * 4);
    expectBytes('rmsnorm', 'out', out, p.rows * p.dim * 4);
  },
  grid: (p) => [p.rows],
});
