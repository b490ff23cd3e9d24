// Node-only WebGPU bootstrap: Dawn (the `webgpu` package) plus, on GPU-less Linux, the SwiftShader Vulkan driver
// that tools/setup-swiftshader.mjs put in <package root>/.swiftshader/. How and why: docs/architecture.md "Browser and Node".

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import { GpuError, GpuLimitError } from '../errors.ts';
import { createGpu, type Gpu, type GpuOptions } from './device.ts';

/** 'auto': SwiftShader only when no real GPU driver is installed; 'swiftshader': always; 'system': never. */
export type NodeFallback = 'auto' | 'swiftshader' | 'system';

export interface NodeGpuOptions {
  /** Whether to use the bundled SwiftShader CPU driver (see NodeFallback); default 'auto'. */
  fallback?: NodeFallback;
  /**
   * 'adaptive' (default, Linux only) stops Dawn's busy-poll from taking CPU that SwiftShader needs; 'spin' is Dawn
   * as shipped. Process-wide: once the adaptive poll is installed it stays.
   */
  poll?: 'adaptive' | 'spin';
}

/** What getNodeGpu does on this machine, and why. */
export interface NodeGpuPlan {
  useSwiftshader: boolean;
  /** The SwiftShader ICD manifest, when used. */
  icd?: string;
  /** The bundled Vulkan loader to preload, when the system has none (whichever driver is used). */
  preloadLoader?: string;
  reason: string;
}

const PACKAGE_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const SWIFTSHADER_DIR = join(PACKAGE_ROOT, '.swiftshader');
const ICD_FILE = join(SWIFTSHADER_DIR, 'vk_swiftshader_icd.json');
const BUNDLED_LOADER = join(SWIFTSHADER_DIR, 'libvulkan.so.1');
const SWIFTSHADER_FILES = ['libvk_swiftshader.so', 'vk_swiftshader_icd.json', 'libvulkan.so.1'];
const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib',
  '/usr/local/lib', '/usr/local/lib/x86_64-linux-gnu',
];
// glibc's RTLD_NODELETE; os.constants.dlopen doesn't list it. Without it Node unloads the library again after the
// failed module registration, and Dawn's later dlopen("libvulkan.so.1") no longer finds it by SONAME.
const RTLD_NODELETE = 0x1000;

// The GPU objects returned by create(), one per plan. They must stay referenced for the life of the process: once
// collected, Dawn's instance is destroyed under any live device and the process crashes (SIGSEGV or
// std::system_error). This is the only module-level state; everything else hangs off the Gpu from createGpu().
// It lives on globalThis rather than in a module variable because test runners may evaluate this module more than
// once per process, and a dropped module instance must not take its GPU objects with it.
const KEEP_ALIVE = Symbol.for('deepseek-webgpu.dawnInstances');
const keepAlive: Map<string, GPU> = ((globalThis as Record<symbol, Map<string, GPU>>)[KEEP_ALIVE] ??= new Map());

// Importing this module makes the WebGPU constant objects and classes (GPUBufferUsage, GPUMapMode, GPUShaderStage,
// GPUValidationError, ...) globals, as they are in a browser, so browser-safe code can use them unchanged. Only
// names not already defined are added. It runs at import, not in getNodeGpu(), because modules such as
// src/gpu/buffers.ts read GPUBufferUsage when they are evaluated.
for (const [name, value] of Object.entries(globals as Record<string, unknown>)) {
  if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}

/** Decides whether to use the bundled SwiftShader; no side effects. */
export function planNodeGpu(fallback: NodeFallback = 'auto'): NodeGpuPlan {
  if (process.platform !== 'linux') return { useSwiftshader: false, reason: `${process.platform}: system driver` };
  const complete = SWIFTSHADER_FILES.every((f) => existsSync(join(SWIFTSHADER_DIR, f)));
  // Without a system loader no Vulkan driver can load at all, SwiftShader or not; the bundled one fills in.
  const preloadLoader = complete && !findSystemLoader() ? BUNDLED_LOADER : undefined;
  const system = (reason: string): NodeGpuPlan => ({ useSwiftshader: false, preloadLoader, reason });
  const swiftshader = (reason: string): NodeGpuPlan => ({ useSwiftshader: true, icd: ICD_FILE, preloadLoader, reason });

  if (fallback === 'system') return system('system Vulkan drivers (fallback=system)');
  if (fallback === 'swiftshader') {
    if (!complete) {
      throw new GpuError(
        `fallback=swiftshader but ${SWIFTSHADER_DIR} is missing or incomplete; ` +
          `run \`node ${join(PACKAGE_ROOT, 'tools', 'setup-swiftshader.mjs')}\` ` +
          '(if that fails: `sudo apt-get install chromium-common libvulkan1` first)',
      );
    }
    return swiftshader('bundled SwiftShader (fallback=swiftshader)');
  }
  const userSet = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES'].find((v) => process.env[v]);
  if (userSet) return system(`drivers from ${userSet} (set by the user)`);
  const real = findRealGpuIcds();
  if (real.length > 0) return system(`system Vulkan driver (${real.join(', ')})`);
  if (!complete) return system(`no GPU Vulkan driver and no ${SWIFTSHADER_DIR}`);
  return swiftshader('bundled SwiftShader (no GPU Vulkan driver found)');
}

/**
 * Returns Dawn's GPU entry point, pointed at the bundled SwiftShader when the plan says so, with the adaptive poll
 * installed on Linux. Calls with the same resolved plan share one instance.
 */
export function getNodeGpu(options: NodeGpuOptions = {}): GPU {
  const plan = planNodeGpu(options.fallback ?? 'auto');
  const key = plan.useSwiftshader ? 'swiftshader' : 'system';
  const existing = keepAlive.get(key);
  if (existing) return existing;

  if (plan.preloadLoader) preloadVulkanLoader(plan.preloadLoader);
  if (plan.useSwiftshader && plan.icd) {
    // The Vulkan loader reads these at vkCreateInstance, i.e. inside create()/requestAdapter(), so setting them
    // here works (Node's process.env calls setenv). VK_DRIVER_FILES wins over VK_ICD_FILENAMES in newer loaders.
    process.env.VK_ICD_FILENAMES = plan.icd;
    if (process.env.VK_DRIVER_FILES) process.env.VK_DRIVER_FILES = plan.icd;
  }
  if (process.platform === 'linux' && (options.poll ?? 'adaptive') === 'adaptive') installAdaptivePoll();

  const gpu = create([]);
  keepAlive.set(key, gpu);
  return gpu;
}

/** createGpu() on Dawn, with the native backend named from the platform and the driver choice in errors. */
export async function createNodeGpu(options: GpuOptions & NodeGpuOptions = {}): Promise<Gpu> {
  const { fallback = 'auto', poll, ...gpuOptions } = options;
  const backend = ({ linux: 'Vulkan', darwin: 'Metal', win32: 'D3D12' } as Record<string, string>)[process.platform];
  const gpu = getNodeGpu({ fallback, poll });
  try {
    return await createGpu({ backend, ...gpuOptions, gpu });
  } catch (err) {
    if (!(err instanceof GpuError) || err instanceof GpuLimitError) throw err;
    const script = join(PACKAGE_ROOT, 'tools', 'setup-swiftshader.mjs');
    throw new GpuError(`${err.message} [driver: ${planNodeGpu(fallback).reason}; setup script: ${script}]`);
  }
}

/** ICD manifests of real GPU drivers. Lavapipe doesn't count: Dawn rejects Mesa 22's (no dynamic indexing). */
function findRealGpuIcds(): string[] {
  const found: string[] = [];
  for (const dir of ICD_DIRS) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    } catch {
      continue;
    }
    for (const name of names) {
      let library = '';
      try {
        library = String(JSON.parse(readFileSync(join(dir, name), 'utf8'))?.ICD?.library_path ?? '');
      } catch {
        // Unreadable manifest: judge it by its name alone.
      }
      if (!/lvp|lavapipe|swiftshader/i.test(`${name} ${library}`)) found.push(join(dir, name));
    }
  }
  return found;
}

function findSystemLoader(): string | undefined {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean), ...LIB_DIRS];
  return dirs.map((d) => join(d, 'libvulkan.so.1')).find((p) => existsSync(p));
}

/**
 * Loads the bundled Khronos loader with RTLD_GLOBAL so Dawn's dlopen("libvulkan.so.1") resolves to it by SONAME.
 * (Setting LD_LIBRARY_PATH from inside Node has no effect: glibc reads it only at startup.) process.dlopen then
 * throws "Module did not self-register" because the library is not a Node addon; that is expected.
 */
function preloadVulkanLoader(path: string): void {
  const { RTLD_NOW, RTLD_GLOBAL } = os.constants.dlopen;
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, path, (RTLD_NOW ?? 2) | (RTLD_GLOBAL ?? 256) | RTLD_NODELETE);
  } catch (err) {
    if (!String((err as Error)?.message).includes('Module did not self-register')) throw err;
  }
}

// ---- Adaptive poll -------------------------------------------------------------------------------------------------
//
// While any promise of Dawn is pending (onSubmittedWorkDone, mapAsync, popErrorScope, ...), dawn.node's AsyncRunner
// polls by calling globalThis.setImmediate(tick) from C++ and re-arms from inside tick, so the main thread spins at
// 100% and takes a core from SwiftShader's workers. The patch below keeps that spin for the first SPIN_POLLS polls
// of each wait (short waits keep their ~15 us latency) and then polls every SLOW_POLL_MS.
//
// Recognising Dawn's poll conservatively, without touching Dawn's prototypes:
//  - the callback is a native function without a name and is passed with no extra arguments (Napi::Function::New
//    makes exactly that; JS callbacks are not native, and bound functions are named "bound ...");
//  - a poll scheduled from inside one of Dawn's ticks continues the current wait (streak + 1); one scheduled from
//    anywhere else starts a new wait (streak = 0). Dawn only re-arms from its own tick, and a new wait after the
//    queue went idle starts from JS, so each await gets a fresh spin budget.
// Everything else goes to the real setImmediate untouched. A new wait that begins while another is still pending
// (overlapping awaits) joins the running chain and may see up to SLOW_POLL_MS extra latency.
// Measured on SwiftShader, 2 vCPUs, one submit of 10 ALU-bound dispatches + mapAsync (median of 5, 3 processes
// each): spin 1.66-1.70 s, adaptive 1.00-1.13 s (1.6x), process CPU time -38%; a small submit + await stays ~20 us.

const SPIN_POLLS = 100;
const SLOW_POLL_MS = 1;
const ADAPTIVE = Symbol.for('deepseek-webgpu.adaptivePoll');

function installAdaptivePoll(): void {
  const original = globalThis.setImmediate as typeof setImmediate & { [ADAPTIVE]?: true };
  if (original[ADAPTIVE]) return;
  let streak = 0;
  let insideDawnTick = false;

  const adaptive = function setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]) {
    if (args.length > 0 || !isDawnTick(callback)) return original(callback, ...args);
    streak = insideDawnTick ? streak + 1 : 0;
    const tick = () => {
      insideDawnTick = true;
      try {
        callback();
      } finally {
        insideDawnTick = false;
      }
    };
    // Dawn ignores the return value, so a Timeout in place of an Immediate is fine.
    return streak < SPIN_POLLS ? original(tick) : setTimeout(tick, SLOW_POLL_MS);
  };
  // Keep util.promisify(setImmediate) and friends working.
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    Object.defineProperty(adaptive, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  Object.defineProperty(adaptive, ADAPTIVE, { value: true });
  globalThis.setImmediate = adaptive as unknown as typeof setImmediate;
}

function isDawnTick(callback: unknown): boolean {
  return (
    typeof callback === 'function' &&
    callback.name === '' &&
    Function.prototype.toString.call(callback).endsWith('{ [native code] }')
  );
}
