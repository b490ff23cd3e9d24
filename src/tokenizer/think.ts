// R1-style reasoning: the model writes `<think>\n...reasoning...\n</think>\n\nanswer`. R1's chat template
// already ends the prompt with `<think>\n`, so the generated text then starts inside the reasoning with no
// visible opening tag (pass `startsInThinking`, e.g. from promptOpensThinking(prompt)). The CLI shows reasoning
// dimmed or hides it; the OpenAI-compatible server returns it as `reasoning_content`.
//
// Tags are matched on text, not token ids: in V3's vocabulary `<think>` is not one token, and text chunks from
// the streaming decoder may split a tag anywhere. Whitespace next to the tags is layout, not text: reasoning is
// trimmed at both ends and the answer's leading whitespace is dropped.

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';

export interface ThinkChunk {
  kind: 'reasoning' | 'content';
  text: string;
}

export interface ThinkSplitterOptions {
  /** The prompt already opened the reasoning (R1's template ends with `<think>\n`). Default false. */
  startsInThinking?: boolean;
}

type Phase =
  | 'opening' // at the start, waiting to see whether the text opens with <think>
  | 'reasoning'
  | 'closed' // right after </think>: dropping whitespace before the answer
  | 'content';

/** Splits a stream of generated text into reasoning and answer chunks; tags may be split across pushes. */
export class ThinkSplitter {
  private phase: Phase;
  /** Text received but not yet emitted: a possible partial tag, or whitespace that may turn out to be layout. */
  private held = '';
  private reasoningStarted = false;

  constructor(private readonly options: ThinkSplitterOptions = {}) {
    this.phase = options.startsInThinking ? 'reasoning' : 'opening';
  }

  /** Feeds the next piece of generated text; returns the chunks it completes (often one, sometimes none). */
  push(text: string): ThinkChunk[] {
    const out: ThinkChunk[] = [];
    this.held += text;
    for (;;) {
      const buf = this.held;
      if (this.phase === 'opening') {
        // Only an opening tag at the very start counts: an answer may mention "<think>" as text.
        const start = buf.trimStart();
        if (start.startsWith(THINK_OPEN)) {
          this.held = start.slice(THINK_OPEN.length);
          this.phase = 'reasoning';
        } else if (THINK_OPEN.startsWith(start)) {
          return out; // '' or a partial '<thi': wait for more
        } else {
          this.phase = 'content';
        }
      } else if (this.phase === 'reasoning') {
        const close = buf.indexOf(THINK_CLOSE);
        if (close >= 0) {
          this.emitReasoning(out, buf.slice(0, close).trimEnd());
          this.held = buf.slice(close + THINK_CLOSE.length);
          this.phase = 'closed';
          continue;
        }
        // Hold back a partial '</thi' and the whitespace before it, which is dropped if the tag completes.
        let end = buf.length - partialTagLength(buf, THINK_CLOSE);
        while (end > 0 && isSpace(buf[end - 1])) end--;
        this.emitReasoning(out, buf.slice(0, end));
        this.held = buf.slice(end);
        return out;
      } else if (this.phase === 'closed') {
        this.held = buf.trimStart();
        if (this.held === '') return out;
        this.phase = 'content';
      } else {
        if (buf !== '') append(out, 'content', buf);
        this.held = '';
        return out;
      }
    }
  }

  /** Ends the stream: returns what was held back (an unfinished tag is then plain text) and starts over. */
  end(): ThinkChunk[] {
    const out: ThinkChunk[] = [];
    if (this.phase === 'opening' && this.held !== '') append(out, 'content', this.held);
    if (this.phase === 'reasoning') this.emitReasoning(out, this.held.trimEnd());
    this.held = '';
    this.reasoningStarted = false;
    this.phase = this.options.startsInThinking ? 'reasoning' : 'opening';
    return out;
  }

  private emitReasoning(out: ThinkChunk[], text: string): void {
    if (!this.reasoningStarted) text = text.trimStart();
    if (text === '') return;
    this.reasoningStarted = true;
    append(out, 'reasoning', text);
  }
}

/** Splits a complete generation (non-streaming responses) into its reasoning and its answer. */
export function splitReasoning(text: string, options: ThinkSplitterOptions = {}): { reasoning: string; content: string } {
  const splitter = new ThinkSplitter(options);
  const parts = { reasoning: '', content: '' };
  for (const chunk of [...splitter.push(text), ...splitter.end()]) parts[chunk.kind] += chunk.text;
  return parts;
}

/**
 * An assistant message as it goes back into the chat history: DeepSeek's guidance for R1 is to drop earlier
 * reasoning, so only the text after the last `</think>` is kept (R1's own template does the same; V3's doesn't).
 */
export function stripReasoning(content: string): string {
  const close = content.lastIndexOf(THINK_CLOSE);
  return close < 0 ? content : content.slice(close + THINK_CLOSE.length).trimStart();
}

/** Whether a rendered prompt leaves the model inside an open `<think>` (R1's generation prompt does). */
export function promptOpensThinking(prompt: string): boolean {
  const open = prompt.lastIndexOf(THINK_OPEN);
  return open >= 0 && prompt.slice(open + THINK_OPEN.length).trim() === '';
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialTagLength(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(tag.slice(0, n))) return n;
  }
  return 0;
}

function isSpace(ch: string): boolean {
  return ch.trim() === '';
}

function append(out: ThinkChunk[], kind: ThinkChunk['kind'], text: string): void {
  const last = out[out.length - 1];
  if (last?.kind === kind) last.text += text;
  else out.push({ kind, text });
}
