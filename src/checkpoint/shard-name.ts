// The one rule for file names that come out of a checkpoint (model.safetensors.index.json's weight_map):
// a plain relative path inside the folder, so every FolderSource (disk, HTTP, picked files) can resolve it
// without leaving the folder. On HTTP a name like `https://elsewhere/x` or `%2e%2e/x` would otherwise
// send the request, and the caller's credentials, to another host or path.

/** Longer than any real shard name ("model-00001-of-000163.safetensors" is 33). */
export const MAX_SHARD_NAME_CHARS = 255;

/** Segment characters allowed: what Hugging Face shard names use, and nothing with a meaning in URLs or paths. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

/** Why `name` is not a plain relative file name inside the folder, or undefined when it is one. */
export function shardNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_SHARD_NAME_CHARS) return `it is ${name.length} characters long (at most ${MAX_SHARD_NAME_CHARS})`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(name)) return 'it is a URL or drive path (has a scheme)';
  if (name.startsWith('/')) return 'it is an absolute path';
  if (name.includes('\\')) return 'it contains a backslash';
  if (name.includes('%')) return 'it contains percent-encoding';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains a control character';
  for (const segment of name.split('/')) {
    if (segment === '' ) return 'it has an empty path segment';
    if (segment === '.' || segment === '..') return `it has a '${segment}' path segment`;
    if (!SEGMENT.test(segment)) return 'it contains characters other than letters, digits and ._+- (or starts with one of .+-)';
  }
  return undefined;
}
