// README's real-checkpoint figures come from tools/plan-real-models.ts: check them against the header
// entries they are planned from and against the memory plan's own tests (src/model/memory-plan.test.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/config/model-config.ts';
import { countParameters } from '../src/model/parameter-count.ts';
import { formatTables, planAll, planRelease, RELEASES, releaseHeaders } from './plan-real-models.ts';

const GiB = 2 ** 30;
const release = (name: string) => RELEASES.find((r) => r.name === name)!;

describe('plan-real-models', () => {
  it('DeepSeek-V2-Lite (BF16): the disk bytes are its parameters x 2, the GPU weights its tensors with norms widened to f32', () => {
    const r = release('DeepSeek-V2-Lite');
    const c = parseModelConfig(r.config);
    const { tensors } = releaseHeaders(c, 'bf16');
    const p = planRelease(r);
    const params = countParameters(c);
    expect(p.diskBytes).toBe(tensors.reduce((n, t) => n + (t.end - t.begin), 0));
    expect(p.diskBytes).toBe(2 * params.total);
    // Every matrix stays BF16 (storage rounding only); 1-D norms become f32, twice their bytes.
    const vectors = tensors.filter((t) => t.shape.length === 1).reduce((n, t) => n + (t.end - t.begin), 0);
    expect(p.weights).toBeGreaterThanOrEqual(p.diskBytes + vectors);
    expect(p.weights).toBeLessThan(p.diskBytes + vectors + 2 ** 20);
    // The 27 layers' latent caches: 576 f32 per position and layer.
    expect(p.latentCache).toEqual([27 * 576 * 4 * 4096, 27 * 576 * 4 * 32768]);
    // The rest of the total: the rope table, the page table (64 sequences x 256 pages of 16 rows at 4K), the page-copy
    // scratch and the step's row maps — well under a MiB.
    expect(p.total[0] - p.weights - p.latentCache[0] - p.activations).toBeLessThan(2 ** 20);
    // Nothing is refused at 1 GiB and above; the largest buffer is the BF16 embedding (or lm_head), 102400 x 2048 x 2 bytes.
    for (const l of p.limits.filter((x) => x.limit >= GiB)) expect(l).toMatchObject({ overLimit: [], largest: { bytes: 102400 * 2048 * 2 } });
  });

  it('--quantize fp8 roughly halves V2-Lite (embedding and lm_head stay BF16), and the active bytes follow the active parameters', () => {
    const r = release('DeepSeek-V2-Lite');
    const bf16 = planRelease(r);
    const fp8 = planRelease(r, 'fp8');
    expect(fp8.diskBytes).toBe(bf16.diskBytes);
    expect(fp8.weights / bf16.weights).toBeGreaterThan(0.5);
    expect(fp8.weights / bf16.weights).toBeLessThan(0.55);
    // Active per token: parameter-count's active parameters (the embedding is looked up, not read whole) in BF16.
    const { active } = countParameters(parseModelConfig(r.config));
    expect(bf16.activeBytesPerToken / (2 * active)).toBeCloseTo(1, 2);
    expect(fp8.activeBytesPerToken).toBeLessThan(0.6 * bf16.activeBytesPerToken);
  });

  it('DeepSeek-V3 (FP8 release): the same weights total as the memory-plan test, and lm_head split at 1 GiB', () => {
    const p = planRelease(release('DeepSeek-V3 / R1'));
    expect(p.weights / GiB).toBeCloseTo(641.3, 1);
    const atGiB = p.limits.find((l) => l.limit === GiB)!;
    expect(atGiB.overLimit).toEqual([]);
    expect(atGiB.largest.bytes).toBeLessThanOrEqual(GiB);
  });

  it("README's tables are the script's output, table for table", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const table of formatTables(planAll()).split('\n\n')) expect(readme).toContain(table);
  });
});
