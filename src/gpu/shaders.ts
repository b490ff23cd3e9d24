// Shader registry and the tiny preprocessor: `#include "common/x.wgsl"` and boolean `#if FLAG` / `#else` /
// `#endif` (for what WGSL `override` can't express, such as `enable f16;`). Every output line remembers
// its source file and line, so compile errors point into the .wgsl file, not the expanded text.
import { ShaderError } from '../errors.ts';
import { SHADER_SOURCES } from './shaders.gen.ts';

export interface ExpandedShader {
  code: string;
  /** For each line of `code`: the .wgsl file and 1-based line it came from. */
  origin: { file: string; line: number }[];
}

export function expandShader(
  name: string,
  flags: Readonly<Record<string, boolean>> = {},
  sources: Readonly<Record<string, string>> = SHADER_SOURCES,
): ExpandedShader {
  const out: string[] = [];
  const origin: ExpandedShader['origin'] = [];
  const visit = (file: string, stack: string[]) => {
    const text = sources[file];
    if (text === undefined) throw new ShaderError(`shader '${file}' not found (included from ${stack.at(-1) ?? 'kernel'})`);
    if (stack.includes(file)) throw new ShaderError(`shader '${file}' includes itself: ${[...stack, file].join(' -> ')}`);
    const active: boolean[] = []; // one entry per open #if: is this branch emitted?
    const emitting = () => active.every(Boolean);
    text.split('\n').forEach((line, i) => {
      const at = `${file}.wgsl:${i + 1}`;
      const directive = line.trim().match(/^#(include|if|else|endif)\b\s*(.*)$/);
      if (!directive) {
        if (emitting()) {
          out.push(line);
          origin.push({ file: `${file}.wgsl`, line: i + 1 });
        }
        return;
      }
      const [, kind, arg] = directive;
      if (kind === 'include') {
        const target = arg.match(/^"(.+)\.wgsl"$/)?.[1];
        if (!target) throw new ShaderError(`${at}: expected #include "path.wgsl"`);
        if (emitting()) visit(target, [...stack, file]);
      } else if (kind === 'if') {
        if (!/^\w+$/.test(arg)) throw new ShaderError(`${at}: #if takes one flag name`);
        active.push(flags[arg] === true);
      } else if (kind === 'else') {
        if (!active.length) throw new ShaderError(`${at}: #else without #if`);
        active.push(!active.pop());
      } else {
        if (!active.length) throw new ShaderError(`${at}: #endif without #if`);
        active.pop();
      }
    });
    if (active.length) throw new ShaderError(`${file}.wgsl: ${active.length} #if without #endif`);
  };
  visit(name, []);
  return { code: out.join('\n'), origin };
}
