// Every tensor the model reads is checked against its slot (dtype and shape from the config) when the
// folder is opened, before any byte is uploaded: a relabelled dtype is a CheckpointError naming the tensor.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openModelFolder } from './model-folder.ts';
import { memoryFolder } from './sources/memory.ts';
import { expectCheckpointError, rewriteHeader } from './test-files.ts';

const FIXTURE = 'kernels-test/fixtures/tiny-v3';
const INDEX = JSON.parse(readFileSync(join(FIXTURE, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>;

/** The fixture in memory, with `tensor`'s header entry edited in the shard that holds it. */
function fixtureWith(tensor: string, edit: (entry: Record<string, unknown>) => void) {
  const files = new Map<string, Uint8Array>();
  for (const f of readdirSync(FIXTURE)) files.set(f, readFileSync(join(FIXTURE, f)));
  const shard = INDEX[tensor];
  files.set(shard, rewriteHeader(files.get(shard)!, (h) => edit(h[tensor])));
  return { folder: memoryFolder(files, 'tiny'), file: `tiny/${shard}` };
}

const KV_B = 'model.layers.0.self_attn.kv_b_proj.weight';

describe('tensor slots: dtype and shape checked when the folder opens', () => {
  it('the unmodified fixture opens', async () => {
    const { folder } = fixtureWith(KV_B, () => undefined);
    const opened = await openModelFolder(folder);
    await opened.checkpoint.close();
  });

  it('kv_b_proj relabelled U8 or F8_E5M2 (same byte size) is refused, naming tensor, dtype and accepted set', async () => {
    for (const dtype of ['U8', 'F8_E5M2']) {
      const { folder, file } = fixtureWith(KV_B, (e) => (e.dtype = dtype));
      const err = await expectCheckpointError(() => openModelFolder(folder), { file, tensor: KV_B, detail: new RegExp(`dtype ${dtype} .*accepted: F8_E4M3, BF16, F32`) });
      expect(err.message).toContain(dtype);
    }
  });

  it('an F32 scale relabelled I32 is refused', async () => {
    const scale = `${KV_B}_scale_inv`;
    const { folder, file } = fixtureWith(scale, (e) => (e.dtype = 'I32'));
    await expectCheckpointError(() => openModelFolder(folder), { file, tensor: scale, detail: /dtype I32 .*accepted: F32, BF16/ });
  });

  it('a norm, an embedding and an expert with a dtype their loader cannot read are refused', async () => {
    const cases: [string, string][] = [
      ['model.norm.weight', 'I32'],
      ['model.embed_tokens.weight', 'F8_E4M3'],
      ['model.layers.1.mlp.experts.3.up_proj.weight', 'F8_E5M2'],
      ['model.layers.1.mlp.gate.e_score_correction_bias', 'I32'],
    ];
    for (const [tensor, dtype] of cases) {
      const { folder, file } = fixtureWith(tensor, (e) => {
        const bytes = (e.data_offsets as number[])[1] - (e.data_offsets as number[])[0];
        const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
        // Keep the byte span consistent by widening the last dim when the new dtype is narrower.
        if (dtype === 'F8_E4M3' || dtype === 'F8_E5M2') (e.shape as number[])[(e.shape as number[]).length - 1] *= bytes / count;
        e.dtype = dtype;
      });
      await expectCheckpointError(() => openModelFolder(folder), { file, tensor, detail: /dtype .* accepted|shape/ });
    }
  });

  it('a shape that disagrees with the config is refused at open, before any read', async () => {
    const { folder, file } = fixtureWith('model.layers.0.input_layernorm.weight', (e) => (e.shape = [128, 2]));
    await expectCheckpointError(() => openModelFolder(folder), { file, tensor: 'model.layers.0.input_layernorm.weight', detail: /shape \[128, 2\] does not match the config's \[256\]/ });
  });

  it('a tensor the model needs but the checkpoint lacks is refused at open', async () => {
    const files = new Map<string, Uint8Array | string>();
    for (const f of readdirSync(FIXTURE)) files.set(f, readFileSync(join(FIXTURE, f)));
    const index = JSON.parse(files.get('model.safetensors.index.json') as unknown as string) as { weight_map: Record<string, string> };
    delete index.weight_map['model.layers.2.self_attn.o_proj.weight'];
    files.set('model.safetensors.index.json', JSON.stringify(index));
    await expectCheckpointError(() => openModelFolder(memoryFolder(files, 'tiny')), { file: 'tiny', tensor: 'model.layers.2.self_attn.o_proj.weight', detail: /missing/ });
  });
});
