// The expert-offload plans of DeepSeek-V2-Lite (all 27 layers, 64 experts) under several --gpu-memory budgets
// (as stored in BF16, --quantize fp8 and --quantize q4),
// from header-only checkpoints (tools/plan-real-models.ts) and the engine's own memory plan: what stays on the
// GPU, how many expert slots per MoE layer the rest of the budget buys, what stays in host memory, or the
// refusal. Nothing is measured here (benchmarks/README.md has the measurements).
//   npx tsx tools/plan-offload.ts [--json]
import { parseByteSize } from '../src/byte-size.ts';
import { parseModelConfig } from '../src/config/model-config.ts';
import { bufferLimit, formatBytes, planMemory } from '../src/model/memory-plan.ts';
import { V2_LITE } from '../src/model/test-configs.ts';
import { releaseHeaders } from './plan-real-models.ts';

export interface OffloadLine {
  option: 'as stored (BF16)' | '--quantize fp8' | '--quantize q4';
  budget: string;
  whole: number;
  /** null when the budget holds the whole model. */
  slots: number | null;
  resident: number | null;
  cache: number | null;
  host: number | null;
  refused: string | null;
}

const BUDGETS = ['4GB', '6GB', '8GB', '12GB', '16GB'];
const NO_LIMIT = bufferLimit({ maxBufferSize: 2 ** 52, maxStorageBufferBindingSize: 2 ** 52 });

export function planOffloads(contextLength = 4096): OffloadLine[] {
  const c = parseModelConfig(V2_LITE);
  const { checkpoint } = releaseHeaders(c, 'bf16');
  const lines: OffloadLine[] = [];
  for (const quantize of [undefined, 'fp8' as const, 'q4' as const]) {
    const o = { contextLength, prefillChunk: 64, quantize };
    const whole = planMemory(c, checkpoint, o, NO_LIMIT).total;
    for (const budget of BUDGETS) {
      const line: OffloadLine = { option: quantize ? `--quantize ${quantize}` : 'as stored (BF16)', budget, whole, slots: null, resident: null, cache: null, host: null, refused: null };
      try {
        const plan = planMemory(c, checkpoint, { ...o, gpuMemory: parseByteSize(budget, 'budget') }, NO_LIMIT);
        if (plan.offload) Object.assign(line, { slots: plan.offload.slots, resident: plan.offload.resident, cache: plan.offload.cache, host: plan.offload.host });
      } catch (e) {
        line.refused = (e as Error).message;
      }
      lines.push(line);
    }
  }
  return lines;
}

if (process.argv[1]?.endsWith('plan-offload.ts')) {
  const lines = planOffloads();
  if (process.argv.includes('--json')) console.log(JSON.stringify(lines, null, 2));
  else {
    console.log('| weights | --gpu-memory | whole model | resident part | expert slots / layer | expert cache | host part |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    const f = (n: number | null) => (n === null ? '-' : formatBytes(n));
    for (const l of lines) {
      const slots = l.refused ? 'refused' : l.slots === null ? 'all 64 (fits)' : `${l.slots} of 64`;
      console.log(`| ${l.option} | ${l.budget} | ${f(l.whole)} | ${f(l.resident)} | ${slots} | ${f(l.cache)} | ${f(l.host)} |`);
    }
    for (const l of lines.filter((l) => l.refused)) console.log(`\n${l.option} ${l.budget}: ${l.refused}`);
  }
}
