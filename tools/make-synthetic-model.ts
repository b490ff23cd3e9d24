// Makes a checkpoint folder with the real shapes of DeepSeek-V2-Lite and random weights, deterministically,
// for benchmarks at real scale (`npm run bench -- e2e --synthetic`): config.json, safetensors shards and
// model.safetensors.index.json, FP8 e4m3 linear weights with 128x128 block scales (as in the V3 release),
// BF16 embedding / lm_head / norms / router. Streamed to disk tensor by tensor: never the model in memory.
// The full 27 layers are ~15 GB; `--layers N` keeps the first N (the bench says how many it used).
//   npx tsx tools/make-synthetic-model.ts [--layers N] [--out weights/synthetic-v2-lite-Nl]
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const V2_LITE = {
  architectures: ['DeepseekV2ForCausalLM'],
  model_type: 'deepseek_v2',
  vocab_size: 102400,
  hidden_size: 2048,
  intermediate_size: 10944,
  moe_intermediate_size: 1408,
  num_hidden_layers: 27,
  num_attention_heads: 16,
  num_key_value_heads: 16,
  q_lora_rank: null,
  kv_lora_rank: 512,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  v_head_dim: 128,
  n_routed_experts: 64,
  n_shared_experts: 2,
  num_experts_per_tok: 6,
  n_group: 1,
  topk_group: 1,
  topk_method: 'greedy',
  scoring_func: 'softmax',
  norm_topk_prob: false,
  routed_scaling_factor: 1.0,
  first_k_dense_replace: 1,
  moe_layer_freq: 1,
  max_position_embeddings: 163840,
  rope_theta: 10000,
  rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 },
  rms_norm_eps: 1e-6,
  bos_token_id: 100000,
  eos_token_id: 100001,
  tie_word_embeddings: false,
  quantization_config: { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: [128, 128] },
};

type Spec = { name: string; dtype: 'F8_E4M3' | 'BF16' | 'F32'; shape: number[]; fill: 'fp8' | 'scale' | 'normal' | 'ones' };

function tensorSpecs(layers: number): Spec[] {
  const c = V2_LITE;
  const H = c.hidden_size;
  const specs: Spec[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [c.vocab_size, H], fill: 'normal' }];
  const linear = (name: string, out: number, inDim: number) => {
    specs.push({ name, dtype: 'F8_E4M3', shape: [out, inDim], fill: 'fp8' });
    specs.push({ name: `${name}_scale_inv`, dtype: 'F32', shape: [Math.ceil(out / 128), Math.ceil(inDim / 128)], fill: 'scale' });
  };
  const mlp = (p: string, inter: number) => {
    linear(`${p}.gate_proj.weight`, inter, H);
    linear(`${p}.up_proj.weight`, inter, H);
    linear(`${p}.down_proj.weight`, H, inter);
  };
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    specs.push({ name: `${p}.input_layernorm.weight`, dtype: 'BF16', shape: [H], fill: 'ones' });
    specs.push({ name: `${p}.post_attention_layernorm.weight`, dtype: 'BF16', shape: [H], fill: 'ones' });
    linear(`${p}.self_attn.q_proj.weight`, c.num_attention_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim), H);
    linear(`${p}.self_attn.kv_a_proj_with_mqa.weight`, c.kv_lora_rank + c.qk_rope_head_dim, H);
    specs.push({ name: `${p}.self_attn.kv_a_layernorm.weight`, dtype: 'BF16', shape: [c.kv_lora_rank], fill: 'ones' });
    linear(`${p}.self_attn.kv_b_proj.weight`, c.num_attention_heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
    linear(`${p}.self_attn.o_proj.weight`, H, c.num_attention_heads * c.v_head_dim);
    if (l < c.first_k_dense_replace) {
      mlp(`${p}.mlp`, c.intermediate_size);
    } else {
      specs.push({ name: `${p}.mlp.gate.weight`, dtype: 'BF16', shape: [c.n_routed_experts, H], fill: 'normal' });
      for (let e = 0; e < c.n_routed_experts; e++) mlp(`${p}.mlp.experts.${e}`, c.moe_intermediate_size);
      mlp(`${p}.mlp.shared_experts`, c.n_shared_experts * c.moe_intermediate_size);
    }
  }
  specs.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [H], fill: 'ones' });
  specs.push({ name: 'lm_head.weight', dtype: 'BF16', shape: [c.vocab_size, H], fill: 'normal' });
  return specs;
}

const BYTES = { F8_E4M3: 1, BF16: 2, F32: 4 } as const;
const elements = (s: Spec) => s.shape.reduce((a, b) => a * b, 1);

/** A fast deterministic u32 stream (xorshift32): billions of random bytes need more speed than quality. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Random bytes of one tensor, in pieces of at most 64 MiB. */
function* tensorBytes(s: Spec, next: () => number): Generator<Uint8Array> {
  const total = elements(s);
  const inDim = s.shape.at(-1)!;
  for (let at = 0; at < total; at += 1 << 26) {
    const n = Math.min(1 << 26, total - at);
    if (s.fill === 'fp8') {
      const words = new Uint32Array(Math.ceil(n / 4));
      for (let i = 0; i < words.length; i++) words[i] = next();
      const b = new Uint8Array(words.buffer, 0, n);
      for (let i = 0; i < n; i++) if ((b[i] & 0x7f) === 0x7f) b[i] ^= 0x01; // no NaN codes (0x7F, 0xFF)
      yield b;
    } else if (s.fill === 'scale') {
      // Uniform random e4m3 codes have an RMS of ~150; scale so weights have RMS 1/sqrt(in).
      yield new Uint8Array(new Float32Array(n).fill(1 / (150 * Math.sqrt(inDim))).buffer);
    } else {
      const f = new Float32Array(n);
      const amplitude = s.fill === 'ones' ? 0 : s.name.includes('embed') ? 1 : 0.05;
      for (let i = 0; i < n; i++) f[i] = s.fill === 'ones' ? 1 : (next() / 2 ** 31 - 1) * amplitude;
      const words = new Uint32Array(f.buffer);
      const b = new Uint16Array(n);
      for (let i = 0; i < n; i++) b[i] = words[i] >>> 16; // bf16: the high half of the f32
      yield new Uint8Array(b.buffer);
    }
  }
}

/** weights/synthetic-v2-lite-<layers>l, made on first use (what the benchmarks load). */
export function syntheticModelDir(layers: number, log: (line: string) => void): string {
  const dir = `weights/synthetic-v2-lite-${layers}l`;
  if (!existsSync(join(dir, 'config.json'))) {
    log(`making ${dir} (DeepSeek-V2-Lite shapes, ${layers} of 27 layers, random FP8 weights)`);
    makeSyntheticModel(dir, layers);
  }
  return dir;
}

export function makeSyntheticModel(outDir: string, layers: number, shardBytes = 2 ** 31): void {
  const specs = tensorSpecs(layers);
  const shards: Spec[][] = [[]];
  let size = 0;
  for (const s of specs) {
    const bytes = elements(s) * BYTES[s.dtype];
    if (size + bytes > shardBytes && shards.at(-1)!.length) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(s);
    size += bytes;
  }
  const tmp = `${outDir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const next = xorshift(20261125);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  shards.forEach((group, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const s of group) {
      const bytes = elements(s) * BYTES[s.dtype];
      header[s.name] = { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[s.name] = file;
    }
    totalSize += offset;
    const raw = new TextEncoder().encode(JSON.stringify(header));
    const headerBytes = new Uint8Array(raw.length + ((8 - (raw.length % 8)) % 8)).fill(0x20);
    headerBytes.set(raw);
    const fd = openSync(join(tmp, file), 'w');
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const s of group) for (const piece of tensorBytes(s, next)) writeSync(fd, piece);
    closeSync(fd);
    process.stderr.write(`wrote ${file} (${(offset / 2 ** 30).toFixed(2)} GiB)\n`);
  });
  writeFileSync(join(tmp, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 1));
  writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...V2_LITE, num_hidden_layers: layers }, null, 2));
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir); // all or nothing: an interrupted run leaves only the .partial folder
}

if (process.argv[1]?.endsWith('make-synthetic-model.ts')) {
  const args = process.argv.slice(2);
  const value = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const layers = Number(value('--layers') ?? 27);
  if (!Number.isInteger(layers) || layers < 1 || layers > 27) throw new Error(`--layers: expected 1..27, got ${value('--layers')}`);
  const out = value('--out') ?? `weights/synthetic-v2-lite-${layers}l`;
  makeSyntheticModel(out, layers);
  console.log(`${out}: DeepSeek-V2-Lite shapes, ${layers} of 27 layers, random FP8 weights`);
}
