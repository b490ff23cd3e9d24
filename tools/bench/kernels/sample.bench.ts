// Token choice at the real vocabularies. bytes = the logits row read once (vocab x 4): the argmax reads it
// once; the sampler makes one pass for the max, up to 8 radix passes each for top-k and top-p (only ids
// in the current key range do more than a compare after the first) and two for the draw, so its GB/s is
// "rows of logits per second", not memory traffic.
import { createStorage, uploadStorage } from '../../../src/gpu/buffers.ts';
import type { SampleRequest } from '../../../src/decode/causal-lm.ts';
import { recordSample, sampleScratchBytes } from '../../../src/kernels/sample.ts';
import { SAMPLE_CASES, V2_LITE, V3 } from '../../../kernels-test/helpers/cases.ts';
import { randomF32 } from '../../../kernels-test/helpers/rand.ts';
import type { KernelBench } from '../kernel-bench.ts';

function bench(kernel: string, model: 'v3' | 'v2-lite', vocab: number, req: Partial<SampleRequest>, what: string): KernelBench {
  const request: SampleRequest = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, penalizedTokens: [], random: 0.37, ...req };
  return {
    kernel,
    model,
    shape: `1x${vocab} · ${what}`,
    bytes: vocab * 4,
    flops: 0,
    inner: 10,
    setup(gpu, rec) {
      const logits = uploadStorage(gpu.device, randomF32(vocab, 1, 12), 'logits'); // peaked: |l| < 12
      const token = createStorage(gpu.device, 4, 'token');
      const scratch = createStorage(gpu.device, sampleScratchBytes(vocab), 'scratch');
      return {
        record: () => recordSample(rec, { logits, token, scratch }, request, { vocab, row: 0 }),
        destroy: () => [logits, token, scratch].forEach((b) => b.destroy()),
      };
    },
  };
}

const { deepseek, all } = SAMPLE_CASES.requests;
export const benches: KernelBench[] = [
  bench('sample-argmax', 'v3', V3.vocab, {}, 'greedy'),
  bench('sample-argmax', 'v2-lite', V2_LITE.vocab, {}, 'greedy'),
  bench('sample-topp', 'v3', V3.vocab, deepseek, 'T 0.6, top-p 0.95'),
  bench('sample-topp', 'v3', V3.vocab, all, 'T 1.3, top-k 50, top-p 0.9, min-p 0.05'),
];
