// JSON we do not control (config.json, the shard index, safetensors headers, HTTP request bodies). JSON.parse itself
// copes with deep nesting, but everything that walks the result recursively afterwards (JSON.stringify in
// a message, structured clone, a debugger) would overflow the stack; no real file nests more than a few
// levels, so depth is capped before parsing, in one linear scan.

/** Deeper than any real config, index or header (they nest at most 4 levels). */
export const MAX_JSON_DEPTH = 64;

/** Parses `text`, calling `fail` (which throws the caller's typed error) on bad or too deeply nested JSON. */
export function parseJsonText(text: string, fail: (detail: string) => never, maxDepth = MAX_JSON_DEPTH): unknown {
  const at = depthExceededAt(text, maxDepth);
  if (at >= 0) fail(`JSON nested deeper than ${maxDepth} levels (at character ${at})`);
  try {
    return JSON.parse(text);
  } catch (e) {
    // V8 quotes a little of the input in its message; keep it short either way.
    const why = String((e as Error)?.message ?? e);
    return fail(`not valid JSON: ${why.length > 160 ? `${why.slice(0, 159)}…` : why}`);
  }
}

/** Index of the first bracket that opens level `maxDepth + 1`, or -1. Brackets inside strings do not count. */
export function depthExceededAt(text: string, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}
