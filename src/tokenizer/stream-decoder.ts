// Incremental detokenization for streaming output. Byte-level BPE splits multi-byte UTF-8 characters across
// tokens (an emoji is often 2-4 tokens), so decoding each token alone prints U+FFFD. We decode a small window
// of recent ids and emit only the text that grew past what was already emitted, holding it back while it
// ends in U+FFFD (an unfinished character). The window restarts at each emitted boundary, so the work per
// token stays constant however long the generation runs.

/** Decodes a list of ids to text ('' for none); TextTokenizer.decode with fixed options. */
export type DecodeFn = (ids: number[]) => string;

const REPLACEMENT = '\uFFFD';

export class StreamingDecoder {
  /** Ids since the last-but-one emitted boundary: the already emitted ids give the decoder its context. */
  private window: number[] = [];
  /** window[0 .. emitted) has had its text emitted; the rest has not. */
  private emitted = 0;

  constructor(private readonly decode: DecodeFn) {}

  /** Adds one id; returns the newly completed text, often '' while a character is still unfinished. */
  push(id: number): string {
    this.window.push(id);
    const before = this.decode(this.window.slice(0, this.emitted));
    const all = this.decode(this.window);
    if (all.length <= before.length || all.endsWith(REPLACEMENT)) return '';
    this.window = this.window.slice(this.emitted);
    this.emitted = this.window.length;
    return all.slice(before.length);
  }

  /**
   * Returns whatever is still held back and starts over. At the end of a generation this is the text of an
   * unfinished character, which then decodes to U+FFFD exactly as a one-shot decode would show it.
   */
  flush(): string {
    const before = this.decode(this.window.slice(0, this.emitted));
    const rest = this.decode(this.window).slice(before.length);
    this.window = [];
    this.emitted = 0;
    return rest;
  }
}
