// A text file of documents → the token stream perplexity is measured on. The held-out sets this engine is
// measured with (eval/README.md) separate documents by a line holding only U+001E (ASCII record
// separator), and every document is scored as the model saw documents in training: [bos] + ids + [eos].
import type { ModelConfig } from '../config/model-config.ts';
import { InputError } from '../errors.ts';
import type { TextTokenizer } from '../tokenizer/tokenizer.ts';

export const DOCUMENT_SEPARATOR = '\x1e';

/**
 * The documents of `text`: the pieces between lines that hold only the separator. The newline on each side
 * of a separator line belongs to it, not to the documents; every other character (a final newline included)
 * stays in its document. Text without a separator line is one document.
 */
export function splitDocuments(text: string): string[] {
  const documents: string[] = [];
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line === DOCUMENT_SEPARATOR) {
      documents.push(lines.join('\n'));
      lines = [];
    } else {
      lines.push(line);
    }
  }
  documents.push(lines.join('\n'));
  return documents;
}

/** The ids that open and close a document. */
export interface DocumentMarkers {
  bos: number;
  eos: number;
}

/** [bos] + encode(document) + [eos], concatenated over the documents in order. */
export function documentStream(documents: readonly string[], encode: (document: string) => readonly number[], markers: DocumentMarkers): number[] {
  const stream: number[] = [];
  for (const document of documents) {
    stream.push(markers.bos);
    for (const id of encode(document)) stream.push(id);
    stream.push(markers.eos);
  }
  return stream;
}

/**
 * BOS and EOS as the model defines them: tokenizer_config.json's tokens, else config.json's ids (the first
 * EOS when it lists several). A model that names neither cannot mark documents, which is refused.
 */
export function documentMarkers(tokenizer: TextTokenizer | null, config: ModelConfig): DocumentMarkers {
  const bos = tokenizer?.bosId ?? config.bosTokenId;
  const eos = tokenizer?.eosId ?? config.eosTokenIds[0] ?? null;
  if (bos === null || eos === null) {
    const missing = bos === null ? 'BOS' : 'EOS';
    throw new InputError('documents', `the model defines no ${missing} token (tokenizer_config.json or config.json), so documents cannot be delimited; give token ids instead`);
  }
  return { bos, eos };
}
