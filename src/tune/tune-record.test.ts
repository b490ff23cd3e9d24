// When a tune record applies: same adapter and driver, same default profile, knobs this engine has.
import { describe, expect, it } from 'vitest';
import { cpuProfile, knob } from '../gpu/launch-profile.ts';
import { adapterKey, tunedProfile, type AdapterIdentity, type TuneRecord } from './tune-record.ts';

const id: AdapterIdentity = { vendor: 'nvidia', architecture: 'ampere', device: '0x2204', description: 'NVIDIA GeForce RTX 3090 (driver 550.54)', backend: 'Vulkan' };
const record: TuneRecord = { version: 1, adapter: id, base: 'cpu', changes: { matmul: { MIN_WORKGROUPS: 64 } }, model: 'm', created: '', table: [] };

describe('tune records', () => {
  it('are keyed by a readable, file-safe name that changes with the driver', () => {
    expect(adapterKey(id)).toMatch(/^nvidia-ampere-[0-9a-f]{8}$/);
    expect(adapterKey(id)).toBe(adapterKey({ ...id }));
    expect(adapterKey({ ...id, description: 'NVIDIA GeForce RTX 3090 (driver 555.42)' })).not.toBe(adapterKey(id));
    expect(adapterKey({ ...id, vendor: '', architecture: '' })).toMatch(/^adapter-[0-9a-f]{8}$/);
  });

  it('apply on the same adapter, driver and default profile only', () => {
    const tuned = tunedProfile(record, cpuProfile(2), id)!;
    expect([tuned.name, knob(tuned, 'matmul', 'MIN_WORKGROUPS'), knob(tuned, 'matmul', 'WG_SIZE')]).toEqual(['cpu (tuned)', 64, 64]);
    expect(tunedProfile(record, cpuProfile(2), { ...id, description: 'NVIDIA GeForce RTX 3090 (driver 555.42)' })).toBeNull();
    expect(tunedProfile(record, cpuProfile(2), { ...id, backend: 'D3D12' })).toBeNull();
    expect(tunedProfile({ ...record, base: 'gpu-discrete' }, cpuProfile(2), id)).toBeNull();
    expect(tunedProfile({ ...record, changes: { matmul: { TILE: 2 } } }, cpuProfile(2), id)).toBeNull();
    expect(tunedProfile({ ...record, version: 2 as 1 }, cpuProfile(2), id)).toBeNull();
  });
});
