// A Hugging Face model id as --model and resolveModel() take it: `owner/name` with an optional `@revision`
// (branch, tag or commit). A string that names an existing path is never an id (callers check the disk
// first); this module decides only whether the text has an id's shape, so that `./a/b`, `/abs/path`,
// `~/x`, `C:\x` and `a/b/c` are never sent to the hub.
import { InputError } from '../errors.ts';

export interface RepoId {
  owner: string;
  name: string;
  /** Branch, tag or 40-hex commit; 'main' when the id gives none. */
  revision: string;
}

export const DEFAULT_REVISION = 'main';

/**
 * The hub's rule for an owner or repository name: letters, digits and `-_.`, not starting or ending with
 * `-` or `.`, no `--` or `..`, at most 96 characters.
 */
const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

/** Branch and tag names as git allows them, less what could leave a folder or confuse a URL. */
const REVISION = /^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$/;

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** True when `text` has the shape `owner/name[@revision]` (no check that such a repository exists). */
export function looksLikeRepoId(text: string): boolean {
  return parseParts(text) !== undefined;
}

/**
 * `owner/name[@revision]` parsed; `revision` (from --revision) applies when the text gives none and must
 * agree with it when it does. Throws InputError naming `argument` when the text is not an id.
 */
export function parseRepoId(text: string, revision?: string, argument = '--model'): RepoId {
  const parts = parseParts(text);
  if (!parts) {
    throw new InputError(argument, `'${text}' is neither an existing folder nor a Hugging Face model id (owner/name or owner/name@revision)`);
  }
  if (revision !== undefined && parts.revision !== undefined && revision !== parts.revision) {
    throw new InputError('--revision', `'${revision}' disagrees with the revision in '${text}'`);
  }
  const chosen = parts.revision ?? revision ?? DEFAULT_REVISION;
  const problem = revisionProblem(chosen);
  if (problem) throw new InputError(parts.revision === undefined ? '--revision' : argument, `revision '${chosen}' is refused: ${problem}`);
  return { owner: parts.owner, name: parts.name, revision: chosen };
}

export function repoName(id: RepoId): string {
  return `${id.owner}/${id.name}`;
}

function parseParts(text: string): { owner: string; name: string; revision?: string } | undefined {
  const at = text.indexOf('@');
  const path = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? undefined : text.slice(at + 1);
  const pieces = path.split('/');
  if (pieces.length !== 2) return undefined;
  const [owner, name] = pieces as [string, string];
  if (!isPart(owner) || !isPart(name)) return undefined;
  if (revision !== undefined && revision === '') return undefined;
  return { owner, name, revision };
}

function isPart(text: string): boolean {
  return PART.test(text) && !text.includes('--') && !text.includes('..');
}

function revisionProblem(revision: string): string | undefined {
  if (!REVISION.test(revision)) return 'use letters, digits and ._/- (not starting with one of ./-)';
  if (revision.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) return "it has an empty, '.' or '..' path segment";
  if (revision.endsWith('.lock') || revision.includes('..')) return "it contains '..' or ends in .lock";
  return undefined;
}
