// Node entry for tokenizers on disk; browser code uses load.ts with its own FolderSource.
import { nodeFolder } from '../checkpoint/sources/node-file.ts';
import { loadTokenizerFrom } from './load.ts';
import type { TextTokenizer } from './tokenizer.ts';

/**
 * Loads `dir`/tokenizer.json + tokenizer_config.json. Returns null when the folder has neither (run such
 * checkpoints with token ids); throws CheckpointError when the folder is missing, only one file is there, or
 * a file is malformed.
 */
export function loadTokenizer(dir: string): Promise<TextTokenizer | null> {
  return loadTokenizerFrom(nodeFolder(dir));
}
