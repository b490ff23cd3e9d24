// Generated text to the terminal, with R1-style reasoning dimmed (or hidden): shared by generate and --samples.
import { ThinkSplitter } from '../tokenizer/think.ts';

/** Writes generated text to the terminal; R1-style reasoning is dimmed (or hidden). */
export class TextSink {
  private readonly splitter: ThinkSplitter;

  constructor(
    private readonly stream: NodeJS.WriteStream | null,
    private readonly hideReasoning: boolean,
    startsInThinking: boolean,
  ) {
    this.splitter = new ThinkSplitter({ startsInThinking });
  }

  write(text: string): void {
    if (text) this.emit(this.splitter.push(text));
  }

  end(): void {
    this.emit(this.splitter.end());
  }

  private emit(chunks: { kind: 'reasoning' | 'content'; text: string }[]): void {
    if (!this.stream) return;
    for (const c of chunks) {
      if (c.kind === 'content') this.stream.write(c.text);
      else if (!this.hideReasoning) this.stream.write(this.stream.isTTY ? `\x1b[2m${c.text}\x1b[0m` : c.text);
    }
  }
}
