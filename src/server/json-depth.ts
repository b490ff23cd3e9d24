// How deeply a JSON text nests, found by a scan before JSON.parse. JSON.parse itself copes with any depth,
// but what walks the parsed value afterwards (JSON.stringify, util.inspect in a log line, a recursive
// check) may not: a body of a million '[' would overflow its stack.

/** Whether arrays and objects in `text` nest deeper than `limit`; strings (and their escapes) are skipped. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped, a quote included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
