// The memory budget of a load on a CPU adapter (SwiftShader), whose "GPU memory" is this process's memory:
// what the system can still give, not its total (a 23.5 GiB plan on a machine with 21 GiB free was accepted
// against 31 GiB of RAM and then crawled through swap). Node only.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { formatBytes } from './model/memory-plan.ts';

/**
 * Left for the process itself beside the planned buffers. Measured: loading tiny-v3-trained and generating
 * 20 tokens peaks at 216 MiB RSS for 28 MiB of planned buffers, so ~190 MiB is the process (Node, V8's heap,
 * Dawn, SwiftShader and its compiled pipelines). A large model adds the uploader's in-flight piece (a 16 MiB
 * read, its f32 decode of up to 32 MiB, the FP8 codes and the copy queue.writeBuffer stages: under 100 MiB,
 * not growing with the model). 512 MiB covers both with room; a fraction of RAM would grow with the machine
 * instead of with what the process needs.
 */
export const PROCESS_MARGIN = 512 * 2 ** 20;

export interface AvailableMemory {
  bytes: number;
  /** Where the number comes from. */
  source: 'MemAvailable' | 'os.freemem()';
}

/** MemAvailable of a /proc/meminfo text, in bytes; undefined when the line is missing (kernels before 3.14). */
export function parseMemAvailable(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * What the system can give a new allocation without swapping. On Linux MemAvailable (free memory plus page
 * cache and reclaimable slabs it can drop); elsewhere os.freemem(). On macOS that counts only free pages, not
 * the inactive and purgeable ones the system would hand over, so it underestimates: pass memoryBudget to
 * load a model the estimate refuses.
 */
export function availableMemory(meminfo: () => string | undefined = readMeminfo, free: () => number = freemem): AvailableMemory {
  const text = meminfo();
  const bytes = text === undefined ? undefined : parseMemAvailable(text);
  return bytes === undefined ? { bytes: free(), source: 'os.freemem()' } : { bytes, source: 'MemAvailable' };
}

export interface MemoryBudget {
  bytes: number;
  /** How it was arrived at, for `info --model`. */
  source: string;
}

/**
 * The budget loadModel() checks a plan against when the caller gives none. A CPU adapter's buffers are this
 * process's memory: what is available now less the process's own margin. A GPU's memory is invisible to
 * WebGPU: no budget (only the per-buffer limits refuse a load).
 */
export function defaultMemoryBudget(isFallbackAdapter: boolean, available: () => AvailableMemory = availableMemory): MemoryBudget | undefined {
  if (!isFallbackAdapter) return undefined;
  const a = available();
  return { bytes: Math.max(0, a.bytes - PROCESS_MARGIN), source: `${a.source} ${formatBytes(a.bytes)} less ${formatBytes(PROCESS_MARGIN)} for the process` };
}

function readMeminfo(): string | undefined {
  try {
    return readFileSync('/proc/meminfo', 'utf8');
  } catch {
    return undefined;
  }
}
