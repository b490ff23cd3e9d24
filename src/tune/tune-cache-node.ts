// tune records on disk: one JSON file per adapter in $XDG_CACHE_HOME/deepseek-webgpu/tune (~/.cache/... when
// unset), named by adapterKey. Read by loadModel() (src/engine-node.ts), written by `deepseek-webgpu tune`.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../gpu/device.ts';
import type { LaunchProfile } from '../gpu/launch-profile.ts';
import { adapterIdentity, adapterKey, tunedProfile, type AdapterIdentity, type TuneRecord } from './tune-record.ts';

/** The folder of tune records. */
export function tuneCacheDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'deepseek-webgpu', 'tune');
}

export function tuneRecordPath(id: AdapterIdentity, dir = tuneCacheDir()): string {
  return join(dir, `${adapterKey(id)}.json`);
}

/** The record for this adapter, or null when there is none or it is unreadable. */
export async function readTuneRecord(id: AdapterIdentity, dir = tuneCacheDir()): Promise<TuneRecord | null> {
  try {
    return JSON.parse(await readFile(tuneRecordPath(id, dir), 'utf8')) as TuneRecord;
  } catch {
    return null;
  }
}

/** Writes the record (whole, through a temporary file), returning its path. */
export async function writeTuneRecord(record: TuneRecord, dir = tuneCacheDir()): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = tuneRecordPath(record.adapter, dir);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
  return path;
}

/** `base` tuned for this adapter from the cache, or null when no record applies. */
export async function cachedTunedProfile(gpu: Gpu, base: LaunchProfile, dir = tuneCacheDir()): Promise<LaunchProfile | null> {
  const id = adapterIdentity(gpu.adapterInfo);
  const record = await readTuneRecord(id, dir);
  return record && tunedProfile(record, base, id);
}
