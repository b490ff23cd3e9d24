// The q4 saved form (docs/q4.md "Saved form"): its config parses, its folder opens, and the slot check
// refuses any q4 tensor whose dtype, shape or scale is not exactly the form's, naming it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from '../config/model-config.ts';
import { ConfigError } from '../errors.ts';
import { openModelFolder } from './model-folder.ts';
import { q4ConfigJson, q4Shards } from './q4-folder.ts';
import { memoryFolder } from './sources/memory.ts';
import { nodeFolder } from './sources/node-file.ts';
import { expectCheckpointError, rewriteHeader } from './test-files.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';
const O_PROJ = 'model.layers.1.self_attn.o_proj.weight'; // [256, 128]: 4 groups of 32 per row

let files: Map<string, Uint8Array | string>;
let shard: string;

beforeAll(async () => {
  const source = await openModelFolder(nodeFolder(FIXTURE));
  files = new Map();
  // Small shards: several files, so the index must point each tensor at its own.
  for await (const f of q4Shards(source.checkpoint, source.config, { shardBytes: 1 << 20 })) files.set(f.name, f.bytes);
  await source.checkpoint.close();
  const json = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
  files.set('config.json', JSON.stringify(q4ConfigJson(json, parseModelConfig(json, 'config.json'))));
  shard = JSON.parse(new TextDecoder().decode(files.get('model.safetensors.index.json') as Uint8Array)).weight_map[O_PROJ];
});

/** The q4 folder with `tensor`'s header entry edited in its shard (or removed from the index). */
function withEntry(tensor: string, edit: (entry: Record<string, unknown>) => void) {
  const edited = new Map(files);
  edited.set(shard, rewriteHeader(files.get(shard) as Uint8Array, (h) => edit(h[tensor])));
  return memoryFolder(edited, 'q4');
}

describe('q4 saved form', () => {
  it('opens: the config says q4 and every q4 slot is I32 codes with an F32 group scale', async () => {
    expect([...files.keys()].filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(1);
    const opened = await openModelFolder(memoryFolder(files, 'q4'));
    expect(opened.config.quantization).toEqual({ method: 'q4', groupSize: 32, weightBlockSize: [128, 128] });
    expect(opened.checkpoint.info(O_PROJ)).toMatchObject({ dtype: 'I32', shape: [256, 16] });
    expect(opened.checkpoint.info(`${O_PROJ}_scale`)).toMatchObject({ dtype: 'F32', shape: [256, 4] });
    await opened.checkpoint.close();
  });

  it('refuses a q4 weight with another dtype or shape, or a scale of the wrong shape or dtype', async () => {
    const file = `q4/${shard}`;
    await expectCheckpointError(() => openModelFolder(withEntry(O_PROJ, (e) => (e.dtype = 'F32'))), { file, tensor: O_PROJ, detail: /dtype F32 .*q4 codes.*accepted: I32/ });
    await expectCheckpointError(() => openModelFolder(withEntry(O_PROJ, (e) => (e.shape = [512, 8]))), { file, tensor: O_PROJ, detail: /shape \[512, 8\] does not match the config's \[256, 16\]/ });
    const scale = `${O_PROJ}_scale`;
    await expectCheckpointError(() => openModelFolder(withEntry(scale, (e) => (e.shape = [512, 2]))), { file, tensor: scale, detail: /\[256, 4\]/ });
    await expectCheckpointError(() => openModelFolder(withEntry(scale, (e) => (e.dtype = 'I32'))), { file, tensor: scale, detail: /q4 group scale/ });
  });

  it('refuses a config whose group size does not match the scales, and unsupported q4 settings', async () => {
    const json = JSON.parse(files.get('config.json') as string) as { quantization_config: Record<string, unknown> };
    const other = new Map(files);
    other.set('config.json', JSON.stringify({ ...json, quantization_config: { ...json.quantization_config, group_size: 64 } }));
    // The first q4 slot's scale is refused: 64-input groups would need half its columns.
    await expect(openModelFolder(memoryFolder(other, 'q4'))).rejects.toThrow(/weight_scale'.*does not match the config's \[\d+, \d+\]/);
    for (const [field, value] of [['group_size', 12], ['bits', 8], ['zero_point', true]] as const) {
      const bad = { ...json, quantization_config: { ...json.quantization_config, [field]: value } };
      expect(() => parseModelConfig(bad, 'config.json'), field).toThrow(ConfigError);
      expect(() => parseModelConfig(bad, 'config.json'), field).toThrow(`quantization_config.${field}`);
    }
  });
});
