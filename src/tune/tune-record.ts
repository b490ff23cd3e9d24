// What `deepseek-webgpu tune` keeps per adapter: the knobs it changed from the adapter's default profile, the
// adapter and driver it measured them on, and its table. Loading a model applies a record only on the same
// adapter and driver, over the same default profile (src/gpu/launch-profile.ts). Storage: ./tune-cache-node.ts
// (a JSON file in the user's cache directory) and ./tune-cache-idb.ts (IndexedDB in a browser).
import type { GpuAdapterSummary } from '../gpu/device.ts';
import { withKnobs, type LaunchProfile } from '../gpu/launch-profile.ts';

/** The adapter and its driver, as WebGPU describes them (the description carries the driver version on most backends). */
export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The native backend when known ('Vulkan (SwiftShader)'), else ''. */
  backend: string;
}

/** One line of tune's table: a kernel's time per (prefill chunk + decode step) before and after. */
export interface TuneRow {
  kernel: string;
  /** The default knobs ('WG_SIZE=64') and their time. */
  default: string;
  defaultMs: number;
  /** The chosen knobs and their time (the default's when nothing beat it). */
  tuned: string;
  tunedMs: number;
}

export interface TuneRecord {
  version: 1;
  adapter: AdapterIdentity;
  /** The default profile's name the changes apply to ('cpu', 'gpu-discrete', ...). */
  base: string;
  /** Knob values by kernel that replace the default profile's. */
  changes: Record<string, Record<string, number>>;
  /** The model folder tuned on, and when. */
  model: string;
  created: string;
  table: TuneRow[];
}

export function adapterIdentity(info: GpuAdapterSummary): AdapterIdentity {
  return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, backend: info.backend ?? '' };
}

/** A file-name-safe key for an adapter: readable vendor and architecture, then a hash of the whole identity. */
export function adapterKey(id: AdapterIdentity): string {
  const text = JSON.stringify([id.vendor, id.architecture, id.device, id.description, id.backend]);
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  const slug = `${id.vendor}-${id.architecture}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'adapter';
  return `${slug}-${h.toString(16).padStart(8, '0')}`;
}

function sameAdapter(a: AdapterIdentity, b: AdapterIdentity): boolean {
  return a.vendor === b.vendor && a.architecture === b.architecture && a.device === b.device && a.description === b.description && a.backend === b.backend;
}

/**
 * `base` with a record's changes, named '<base> (tuned)'; null when the record is for another adapter or driver
 * or another default profile, or names knobs this engine does not have (a record from another version).
 */
export function tunedProfile(record: TuneRecord, base: LaunchProfile, id: AdapterIdentity): LaunchProfile | null {
  if (record.version !== 1 || !record.adapter || !sameAdapter(record.adapter, id) || record.base !== base.name) return null;
  try {
    return withKnobs(base, record.changes, `${base.name} (tuned)`);
  } catch {
    return null;
  }
}
