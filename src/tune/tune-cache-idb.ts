// tune records in a browser: one IndexedDB object store keyed by adapterKey (the Node side keeps JSON files,
// ./tune-cache-node.ts). Read by loadModelFromUrl/loadModelFromFiles (src/engine-browser.ts).
import type { Gpu } from '../gpu/device.ts';
import type { LaunchProfile } from '../gpu/launch-profile.ts';
import { adapterIdentity, adapterKey, tunedProfile, type TuneRecord } from './tune-record.ts';

const DB = 'deepseek-webgpu';
const STORE = 'tune';

function open(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(factory: IDBFactory, mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open(factory);
  try {
    return await new Promise<T>((resolve, reject) => {
      const req = op(db.transaction(STORE, mode).objectStore(STORE));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  } finally {
    db.close();
  }
}

/** Stores a record under its adapter's key. */
export function writeTuneRecordIdb(record: TuneRecord, factory: IDBFactory = indexedDB): Promise<IDBValidKey> {
  return run(factory, 'readwrite', (s) => s.put(record, adapterKey(record.adapter)));
}

/** `base` tuned for this adapter from IndexedDB, or null when there is none, it does not apply, or IndexedDB is unavailable. */
export async function idbTunedProfile(gpu: Gpu, base: LaunchProfile, factory: IDBFactory | undefined = globalThis.indexedDB): Promise<LaunchProfile | null> {
  if (!factory) return null;
  const id = adapterIdentity(gpu.adapterInfo);
  try {
    const record = (await run(factory, 'readonly', (s) => s.get(adapterKey(id)))) as TuneRecord | undefined;
    return record ? tunedProfile(record, base, id) : null;
  } catch {
    return null;
  }
}
