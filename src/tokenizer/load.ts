// Reads a model folder's tokenizer.json + tokenizer_config.json through a FolderSource (Node folder, HTTP,
// browser files). The engine also runs checkpoints that ship no tokenizer (callers then pass token ids), so
// a folder with neither file is not an error: it yields null.
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { CheckpointError } from '../errors.ts';
import { TextTokenizer } from './tokenizer.ts';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/**
 * The folder's tokenizer, or null when it has neither tokenizer file. One file without the other, invalid
 * JSON or an unusable tokenizer is a CheckpointError naming the folder or file.
 */
export async function loadTokenizerFrom(folder: FolderSource): Promise<TextTokenizer | null> {
  const [hasJson, hasConfig] = await Promise.all([folder.exists(TOKENIZER_FILE), folder.exists(TOKENIZER_CONFIG_FILE)]);
  if (!hasJson && !hasConfig) return null;
  if (!hasJson || !hasConfig) {
    const [present, missing] = hasJson ? [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE] : [TOKENIZER_CONFIG_FILE, TOKENIZER_FILE];
    throw new CheckpointError(folder.name, `has ${present} but no ${missing}; a tokenizer needs both`);
  }
  const tokenizerFile = `${folder.name}/${TOKENIZER_FILE}`;
  const configFile = `${folder.name}/${TOKENIZER_CONFIG_FILE}`;
  const [json, config] = await Promise.all([
    readJson(folder, TOKENIZER_FILE, tokenizerFile),
    readJson(folder, TOKENIZER_CONFIG_FILE, configFile),
  ]);
  return new TextTokenizer(json, config, { tokenizerFile, configFile });
}

async function readJson(folder: FolderSource, fileName: string, label: string): Promise<unknown> {
  const text = await folder.readText(fileName);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(label, `not valid JSON: ${(e as Error).message}`);
  }
}
