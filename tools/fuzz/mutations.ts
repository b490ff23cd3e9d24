// Mutation classes over the tiny checkpoint. Each returns the folder's files with one thing broken (or,
// sometimes, changed in a way that means the same), and a line saying what was done.
import { DTYPES } from '../../src/checkpoint/dtypes.ts';
import { INDEX_FILE } from '../../src/checkpoint/shard-index.ts';
import type { Rng } from './rng.ts';
import { joinShard, splitShard } from './shard-bytes.ts';
import { SHARDS, type TinyCheckpoint } from './tiny-checkpoint.ts';

export type Files = Map<string, Uint8Array | string>;
export interface Mutated {
  files: Files;
  what: string;
}
type Mutation = (rng: Rng, base: TinyCheckpoint) => Mutated;

type Entry = { dtype: unknown; shape: unknown; data_offsets: unknown };

/** A copy of the base files with one shard's header (and maybe data) rebuilt by `edit`. */
function editShard(
  base: TinyCheckpoint,
  rng: Rng,
  edit: (header: Record<string, unknown>, names: string[], data: Uint8Array) => string | { text: string; data?: Uint8Array; declared?: bigint; what: string },
): Mutated {
  const shard = rng.pick(SHARDS);
  const { header, data } = splitShard(base.files.get(shard) as Uint8Array);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const result = edit(header, names, data);
  const r = typeof result === 'string' ? { text: JSON.stringify(header), what: result } : result;
  const files = new Map(base.files);
  files.set(shard, joinShard(r.text, r.data ?? data, r.declared));
  return { files, what: `${shard}: ${r.what}` };
}

const HUGE = [2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, Number.MAX_SAFE_INTEGER];

const headerLength: Mutation = (rng, base) =>
  editShard(base, rng, (header) => {
    const text = `${JSON.stringify(header)}${' '.repeat(8)}`; // padding, so a shorter length still parses
    const n = BigInt(text.length);
    const delta = rng.pick([-1n, -2n, -3n, -7n, -8n, 1n, 3n, 8n, 64n]);
    const declared = rng.pick([n + delta, n + delta, n + delta, 0n, n / 2n, 2n ** 40n, 2n ** 64n - 1n, 100_000_001n, 7n]);
    return { text, declared, what: `header length ${n} declared as ${declared}` };
  });

const headerJson: Mutation = (rng, base) =>
  editShard(base, rng, (header, names) => {
    const text = JSON.stringify(header);
    switch (rng.int(9)) {
      case 0: {
        const at = rng.int(text.length);
        return { text: text.slice(0, at), what: `header text cut at ${at}` };
      }
      case 1: {
        const at = rng.int(text.length);
        const c = String.fromCharCode(rng.int(128));
        return { text: text.slice(0, at) + c + text.slice(at + 1), what: `header byte ${at} set to ${JSON.stringify(c)}` };
      }
      case 2: {
        const depth = rng.pick([65, 1000, 100_000]);
        return { text: `{"__metadata__":{"x":${'['.repeat(depth)}${']'.repeat(depth)}},${text.slice(1)}`, what: `nesting ${depth} deep` };
      }
      case 3:
        header.__metadata__ = { format: 'pt', pad: 'x'.repeat(rng.pick([70_000, 1_000_000, 4_000_000])) };
        return 'huge metadata string';
      case 4: {
        const a = rng.pick(names);
        const dup = JSON.stringify(header[rng.pick([a, rng.pick(names)])]);
        return { text: `${text.slice(0, -1)},${JSON.stringify(a)}:${dup}}`, what: `duplicate key '${a}'` };
      }
      case 5: {
        const t = rng.pick(['[]', '1', '"x"', 'null', 'true', '[{}]', '', ' {}', '{}']);
        return { text: t, what: `header is ${JSON.stringify(t)}` };
      }
      case 6:
        header.__metadata__ = rng.pick([[], 1, null, { a: 1 }, { a: { b: 'c' } }, 'pt', { '': '' }]);
        return `__metadata__ = ${JSON.stringify(header.__metadata__)}`;
      case 7: {
        const a = rng.pick(names);
        header[`${a}\u0000${'x'.repeat(rng.pick([1, 10_000]))}`] = header[a];
        delete header[a];
        return `'${a}' renamed to a long name with NUL`;
      }
      default:
        return { text: `\uFEFF${text}`, what: 'byte-order mark before the header' };
    }
  });

const dtype: Mutation = (rng, base) =>
  editShard(base, rng, (header, names) => {
    const name = rng.pick(names);
    const to = rng.pick([...DTYPES, ...DTYPES, 'F64', 'BOOL', 'bf16', '', 5, null]);
    (header[name] as Entry).dtype = to;
    return `'${name}' dtype -> ${JSON.stringify(to)}`;
  });

const shape: Mutation = (rng, base) =>
  editShard(base, rng, (header, names) => {
    const name = rng.pick(names);
    const e = header[name] as Entry;
    const s = [...(e.shape as number[])];
    const i = rng.int(s.length);
    const options: unknown[] = [
      s.map((d, j) => (j === i ? d + 1 : d)),
      s.map((d, j) => (j === i ? d - 1 : d)),
      s.map((d, j) => (j === i ? 0 : d)),
      s.map((d, j) => (j === i ? -d : d)),
      s.map((d, j) => (j === i ? d + 0.5 : d)),
      s.map((d, j) => (j === i ? rng.pick(HUGE) : d)),
      [...s].reverse(),
      [...s, 1],
      [s.reduce((a, b) => a * b, 1)],
      [],
      'x',
      s.map(String),
    ];
    e.shape = rng.pick(options);
    return `'${name}' shape ${JSON.stringify(s)} -> ${JSON.stringify(e.shape)}`;
  });

const dataOffsets: Mutation = (rng, base) =>
  editShard(base, rng, (header, names) => {
    const name = rng.pick(names);
    const e = header[name] as Entry;
    const [b, end] = e.data_offsets as number[];
    const k = rng.pick([1, 2, 4, 8, 64]);
    const other = (header[rng.pick(names)] as Entry).data_offsets as number[];
    e.data_offsets = rng.pick([
      [b + k, end + k],
      [b - k, end - k],
      [b, end + k],
      [b + k, end],
      [end, b],
      [other[0], other[1]],
      [b, end + 2 ** 40],
      [b, rng.pick(HUGE)],
      [-1, end],
      [b + 0.5, end + 0.5],
      [b],
      [b, end, end],
      null,
    ]);
    return `'${name}' data_offsets [${b}, ${end}] -> ${JSON.stringify(e.data_offsets)}`;
  });

const dataSection: Mutation = (rng, base) =>
  editShard(base, rng, (header, _names, data) => {
    const k = rng.pick([1, 3, 8, 100, data.length]);
    if (rng.int(2) === 0) return { text: JSON.stringify(header), data: data.subarray(0, Math.max(0, data.length - k)), what: `data section cut by ${k} bytes` };
    const extra = Uint8Array.from({ length: k }, () => rng.int(256));
    const grown = new Uint8Array(data.length + k);
    grown.set(data);
    grown.set(extra, data.length);
    return { text: JSON.stringify(header), data: grown, what: `${k} trailing bytes appended` };
  });

/** Shard names an index must not get away with (see src/checkpoint/shard-name.ts). */
const BAD_SHARD_NAMES = [
  'https://evil.example/model.safetensors',
  'http://127.0.0.1:1/x.safetensors',
  '//evil.example/x.safetensors',
  'file:///etc/passwd',
  '../model-00001-of-00002.safetensors',
  '%2e%2e/model-00001-of-00002.safetensors',
  'sub/%2E%2E/%2e%2e/x.safetensors',
  './model-00001-of-00002.safetensors',
  '/model-00001-of-00002.safetensors',
  'a\\b.safetensors',
  'C:\\x.safetensors',
  'x\u0000.safetensors',
  '',
  'x'.repeat(300),
  'model-00001-of-00002.safetensors?x=1',
];

function editIndex(base: TinyCheckpoint, edit: (index: { metadata: unknown; weight_map: Record<string, unknown> }, files: Files) => string): Mutated {
  const index = JSON.parse(JSON.stringify(base.index));
  const files = new Map(base.files);
  const what = edit(index, files);
  files.set(INDEX_FILE, JSON.stringify(index));
  return { files, what };
}

const shardIndex: Mutation = (rng, base) =>
  editIndex(base, (index, files) => {
    const names = Object.keys(index.weight_map);
    const name = rng.pick(names);
    switch (rng.int(8)) {
      case 0: {
        const shard = rng.pick(SHARDS);
        files.delete(shard);
        return `shard ${shard} missing`;
      }
      case 1:
        index.weight_map[name] = rng.pick(BAD_SHARD_NAMES);
        return `'${name}' -> ${JSON.stringify(index.weight_map[name])}`;
      case 2:
        index.weight_map[name] = SHARDS.find((s) => s !== index.weight_map[name]);
        return `'${name}' placed in the other shard`;
      case 3:
        delete index.weight_map[name];
        return `'${name}' left out of the index`;
      case 4: {
        const count = rng.pick([5_000, 20_000]);
        for (let i = 0; i < count; i++) index.weight_map[`extra.${i}`] = `missing-${i}.safetensors`;
        return `${count} missing shards listed`;
      }
      case 5: {
        const count = 100_001;
        for (let i = 0; i < count; i++) index.weight_map[`extra.${i}`] = SHARDS[0];
        return `${count} tensors listed`;
      }
      case 6:
        index.weight_map[name] = rng.pick([1, null, [], {}, true]);
        return `'${name}' -> non-string`;
      default:
        (index as Record<string, unknown>).weight_map = rng.pick([[], 'x', null, 1]);
        return 'weight_map not an object';
    }
  });

const NUMERIC_VALUES: unknown[] = [0, -1, 1e308, -1e308, 'NaN', '12', 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1.5, 0.5, 1e-300, null, true, [], {}, [4]];

/** Every numeric field of the config, with rope_scaling's and quantization_config's. */
function numericPaths(config: Record<string, unknown>): string[][] {
  const paths: string[][] = [];
  for (const [k, v] of Object.entries(config)) {
    if (typeof v === 'number') paths.push([k]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') paths.push([k, k2]);
    }
  }
  paths.push(['quantization_config', 'weight_block_size']);
  return paths;
}

const config: Mutation = (rng, base) => {
  const json = JSON.parse(JSON.stringify(base.config)) as Record<string, Record<string, unknown>>;
  const path = rng.pick(numericPaths(base.config));
  const holder = path.length === 1 ? (json as Record<string, unknown>) : json[path[0]];
  const key = path[path.length - 1];
  const remove = rng.int(6) === 0;
  const value = rng.pick(NUMERIC_VALUES);
  if (remove) delete holder[key];
  else holder[key] = value;
  const files = new Map(base.files);
  files.set('config.json', JSON.stringify(json));
  return { files, what: `config ${path.join('.')} ${remove ? 'removed' : `= ${JSON.stringify(value)}`}` };
};

const none: Mutation = (_rng, base) => ({ files: new Map(base.files), what: 'unchanged' });

export const MUTATIONS: Readonly<Record<string, Mutation>> = Object.freeze({
  none,
  'header-length': headerLength,
  'header-json': headerJson,
  dtype,
  shape,
  'data-offsets': dataOffsets,
  'data-section': dataSection,
  index: shardIndex,
  config,
});
