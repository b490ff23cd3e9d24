// The launch profile the GPU tests run under: DEEPSEEK_WEBGPU_TEST_PROFILE=cpu (the default: SwiftShader's own)
// or gpu (the discrete-GPU defaults, docs/launch-profiles.md). SwiftShader runs both, and no result may depend on
// the launch shape; vitest.config.ts runs the kernel and model tests once more under the GPU profile.
import { cpuProfile, genericGpuProfile, type LaunchProfile } from '../../src/gpu/launch-profile.ts';

export type TestProfileName = 'cpu' | 'gpu';

/** The profile name of this test run. */
export function testProfileName(): TestProfileName {
  // globalThis.process: the harness also runs in the browser tests' page, which has no process.
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
  const name = env?.DEEPSEEK_WEBGPU_TEST_PROFILE ?? 'cpu';
  if (name !== 'cpu' && name !== 'gpu') throw new Error(`DEEPSEEK_WEBGPU_TEST_PROFILE must be cpu or gpu, got '${name}'`);
  return name;
}

/** The launch profile of this test run, for `device`. */
export function testProfile(device: GPUDevice, name = testProfileName()): LaunchProfile {
  return name === 'cpu' ? cpuProfile() : genericGpuProfile(device.limits);
}
