// Reads a model folder's tokenizer.json + tokenizer_config.json through a FolderSource (Node folder, HTTP,
// browser files). Folders without tokenizer.json may ship tiktoken.model instead (Moonlight, Kimi-K2). The engine also runs checkpoints that ship no tokenizer (callers then pass token ids), so
// a folder with neither file is not an error: it yields null.
import type { FolderSource } from '../checkpoint/byte-source.ts';
import { CheckpointError } from '../errors.ts';
import { TextTokenizer } from './tokenizer.ts';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const TIKTOKEN_FILE = 'tiktoken.model';

/**
 * The folder's tokenizer, or null when it has no tokenizer files. tokenizer.json wins over tiktoken.model
 * when both are there, since it carries its own pre-tokenization rules; tiktoken.model is read with
 * `tiktokenPattern` (default Kimi-K2's). A vocabulary file without tokenizer_config.json or the reverse,
 * invalid JSON or an unusable tokenizer is a CheckpointError naming the folder or file.
 */
export async function loadTokenizerFrom(folder: FolderSource, options: { tiktokenPattern?: string } = {}): Promise<TextTokenizer | null> {
  const [hasJson, hasTiktoken, hasConfig] = await Promise.all([
    folder.exists(TOKENIZER_FILE),
    folder.exists(TIKTOKEN_FILE),
    folder.exists(TOKENIZER_CONFIG_FILE),
  ]);
  const vocabFile = hasJson ? TOKENIZER_FILE : hasTiktoken ? TIKTOKEN_FILE : null;
  if (vocabFile === null && !hasConfig) return null;
  if (vocabFile === null) {
    throw new CheckpointError(folder.name, `has ${TOKENIZER_CONFIG_FILE} but no ${TOKENIZER_FILE} or ${TIKTOKEN_FILE}; a tokenizer needs both`);
  }
  if (!hasConfig) throw new CheckpointError(folder.name, `has ${vocabFile} but no ${TOKENIZER_CONFIG_FILE}; a tokenizer needs both`);
  const tokenizerFile = `${folder.name}/${vocabFile}`;
  const configFile = `${folder.name}/${TOKENIZER_CONFIG_FILE}`;
  if (vocabFile === TIKTOKEN_FILE) {
    const [text, config] = await Promise.all([folder.readText(TIKTOKEN_FILE), readJson(folder, TOKENIZER_CONFIG_FILE, configFile)]);
    return TextTokenizer.fromTiktoken(text, config, { tokenizerFile, configFile }, { pattern: options.tiktokenPattern });
  }
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
