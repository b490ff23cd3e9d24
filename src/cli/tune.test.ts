// `deepseek-webgpu tune` as a user runs it (one cheap kernel of the tiny fixture, a short prefill, a temporary
// cache folder), then loadModel() finding its record for this adapter and ignoring one for another adapter.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTestGpu } from '../../kernels-test/helpers/gpu.ts';
import { loadModel } from '../engine-node.ts';
import { knob } from '../gpu/launch-profile.ts';
import { adapterProfile } from '../model/deepseek-model.ts';
import { adapterIdentity, adapterKey, type TuneRecord } from '../tune/tune-record.ts';

const gpu = await getTestGpu();
const MODEL = 'kernels-test/fixtures/tiny-v3';

describe.skipIf(!gpu)('tune', () => {
  let cache: string;
  let record: TuneRecord;
  let table: string;
  beforeAll(async () => {
    cache = await mkdtemp(join(tmpdir(), 'tune-'));
    const args = ['bin/deepseek-webgpu.js', 'tune', '-m', MODEL, '--kernel', 'residual-add', '--prefill', '8', '--reps', '2', '--samples', '1', '--cache-dir', cache];
    table = (await promisify(execFile)('node', args, { encoding: 'utf8' })).stdout;
    const [file] = await readdir(cache);
    record = JSON.parse(await readFile(join(cache, file), 'utf8'));
  });
  afterAll(() => rm(cache, { recursive: true, force: true }));

  it('prints kernel, default, tuned, speed-up and keeps a record named for this adapter', async () => {
    expect(table).toMatch(/^kernel\s+default\s+tuned\s+speed-up\n/);
    expect(table).toMatch(/\nresidual-add\s+WG_SIZE=256 +\d+\.\d{3} ms\s+.+ms\s+\d+\.\d\dx\n/);
    const id = adapterIdentity(gpu!.adapterInfo);
    expect(await readdir(cache)).toEqual([`${adapterKey(id)}.json`]);
    expect(table).toContain(join(cache, `${adapterKey(id)}.json`));
    expect(record).toMatchObject({ version: 1, adapter: id, base: adapterProfile(gpu!).name, model: MODEL });
    expect(record.table.map((r) => r.kernel)).toEqual(['residual-add']);
    expect(Object.keys(record.changes).every((k) => k === 'residual-add')).toBe(true);
  });

  it('loading a model uses the record for this adapter, and ignores one for another adapter or driver', async () => {
    const path = join(cache, `${adapterKey(record.adapter)}.json`);
    const keep = async (r: TuneRecord) => writeFile(path, JSON.stringify(r));
    const load = async () => {
      const engine = await loadModel(MODEL, { gpu: gpu!, tuneCache: cache, warmup: false });
      const profile = engine.model.profile;
      await engine.dispose();
      return profile;
    };
    await keep({ ...record, changes: { 'residual-add': { WG_SIZE: 64 } } });
    const tuned = await load();
    expect([tuned.name, knob(tuned, 'residual-add', 'WG_SIZE')]).toEqual([`${adapterProfile(gpu!).name} (tuned)`, 64]);
    await keep({ ...record, adapter: { ...record.adapter, description: `${record.adapter.description} (another driver)` }, changes: { 'residual-add': { WG_SIZE: 64 } } });
    expect((await load()).name).toBe(adapterProfile(gpu!).name);
    await keep({ ...record, changes: { 'residual-add': { TILE: 2 } } }); // a knob this engine does not have
    expect((await load()).name).toBe(adapterProfile(gpu!).name);
  });
});
