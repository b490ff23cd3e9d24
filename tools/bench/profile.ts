// `npm run bench -- <suite> --profile cpu|gpu|tuned`: the launch profile the benchmarks run under (default: the
// adapter's own, profileFor; a tune record is used only when asked for, so runs stay comparable).
import type { Gpu } from '../../src/gpu/device.ts';
import { namedProfile, type LaunchProfile } from '../../src/gpu/launch-profile.ts';
import { adapterProfile } from '../../src/model/deepseek-model.ts';
import { cachedTunedProfile } from '../../src/tune/tune-cache-node.ts';

export const BENCH_PROFILES = ['cpu', 'gpu', 'tuned'] as const;
export type BenchProfileName = (typeof BENCH_PROFILES)[number];

export async function benchProfile(gpu: Gpu, name: BenchProfileName | undefined): Promise<LaunchProfile> {
  if (name === undefined) return adapterProfile(gpu);
  if (name !== 'tuned') return namedProfile(name, gpu.adapterInfo, gpu.limits);
  const tuned = await cachedTunedProfile(gpu, adapterProfile(gpu));
  if (!tuned) throw new Error('--profile tuned: no tune record for this adapter and driver; run `deepseek-webgpu tune` first');
  return tuned;
}
