// Timing for benchmarks: wall clock from before encoding to after onSubmittedWorkDone (WEBGPU-CPU.md
// agrees with timestamp queries within ~3%), `inner` dispatches per submit to amortize the ~60-100 µs
// submit round trip, median over samples after warm-up.
export interface Timing {
  medianMs: number;
  minMs: number;
  samples: number;
}

export async function timeGpu(
  device: GPUDevice,
  recordAndSubmit: () => void,
  options: { warmup?: number; samples?: number; inner?: number; budgetMs?: number } = {},
): Promise<Timing> {
  const { warmup = 1, samples = 7, inner = 1, budgetMs = 20_000 } = options;
  const once = async () => {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) recordAndSubmit();
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / inner;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < samples && (times.length < 3 || performance.now() - start < budgetMs)) times.push(await once());
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)], minMs: times[0], samples: times.length };
}
