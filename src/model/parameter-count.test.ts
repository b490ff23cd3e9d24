import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../config/model-config.ts';
import { countParameters } from './parameter-count.ts';
import { V2_LITE, V3 } from './test-configs.ts';

describe('countParameters', () => {
  it('DeepSeek-V3: 671B total, 37B active, 684.5B with the MTP module (the release shows "685B")', () => {
    const p = countParameters(parseModelConfig(V3));
    expect(p.total / 1e9).toBeCloseTo(671, 0);
    expect((p.active + 129280 * 7168) / 1e9).toBeCloseTo(37.5, 0); // DeepSeek's 37B counts the embedding too
    // The release's safetensors hold 684.53B values, of which ~0.04B are FP8 block scales (not counted here).
    expect((p.total + p.mtp) / 1e9).toBeCloseTo(684.5, 1);
  });

  it('DeepSeek-V2-Lite: 15.7B total, 2.4B active', () => {
    const p = countParameters(parseModelConfig(V2_LITE));
    expect(p.total / 1e9).toBeCloseTo(15.7, 1);
    expect((p.active + 102400 * 2048) / 1e9).toBeCloseTo(2.4, 0);
  });
});
