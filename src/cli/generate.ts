// `deepseek-webgpu generate [PROMPT]`: streams a continuation (or a chat answer) as it is produced, then
// prints prefill and decode speed. --json prints one JSON object instead.
import { Option, type Command } from 'commander';
import type { GlobalOptions } from '../cli.ts';
import type { GenerateOptions } from '../decode/generate.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import type { ChatMessage } from '../tokenizer/chat-template.ts';
import { promptOpensThinking, ThinkSplitter } from '../tokenizer/think.ts';
import { parseTokenList } from './arguments.ts';
import { addModelOptions, loadModelFromCli, parseIntOption, parseNumberOption, type ModelCliOptions } from './load-model.ts';

interface GenerateCliOptions extends ModelCliOptions {
  chat?: boolean;
  system?: string;
  tokens?: string;
  maxNewTokens: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  minP?: string;
  repetitionPenalty?: string;
  seed?: string;
  stop: string[];
  json?: boolean;
  hideReasoning?: boolean;
  speculative?: 'mtp' | 'none';
  draftTokens?: string;
}

export function register(program: Command): void {
  addModelOptions(
    program
      .command('generate')
      .description('generate text from a prompt (streams tokens as they are produced)')
      .argument('[prompt]', 'prompt text (tokenized with the model folder\'s tokenizer.json)')
      .option('--chat', 'wrap the prompt as a user message in the chat template')
      .option('--system <text>', 'a system message (with --chat)')
      .option('--tokens <ids>', 'the prompt as comma-separated token ids instead of text')
      .option('--max-new-tokens <n>', 'stop after this many tokens', '128')
      .option('--temperature <t>', '0 = greedy (default); > 0 samples')
      .option('--top-k <k>', 'sample among the k most likely tokens (0 = off)')
      .option('--top-p <p>', 'sample among the smallest set reaching probability p (1 = off)')
      .option('--min-p <p>', 'drop tokens less likely than p times the most likely (0 = off)')
      .option('--repetition-penalty <r>', 'make recent tokens less likely (1 = off)')
      .option('--seed <n>', 'random seed: the same seed and options give the same output')
      .option('--stop <text>', 'stop when this text is produced (repeatable)', (v: string, all: string[]) => [...all, v], [])
      .option('--hide-reasoning', 'hide the <think> part of R1-style answers')
      .addOption(new Option('--speculative <mode>', 'mtp: draft with the MTP head and verify (default when the model has one); none').choices(['mtp', 'none']))
      .option('--draft-tokens <k>', 'drafts per step with --speculative mtp (the MTP head chained on its own output)', '1')
      .option('--json', 'print one JSON object (tokens, text, stats) instead of streaming text'),
  ).action(async (prompt: string | undefined, options: GenerateCliOptions, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    const engine = await loadModelFromCli(options, fallback);
    try {
      const { tokens: promptTokens, text: promptText } = buildPrompt(prompt, options, engine);
      const genOptions: GenerateOptions = {
        maxNewTokens: parseIntOption(options.maxNewTokens, '--max-new-tokens'),
        temperature: parseNumberOption(options.temperature, '--temperature'),
        topK: parseIntOption(options.topK, '--top-k'),
        topP: parseNumberOption(options.topP, '--top-p'),
        minP: parseNumberOption(options.minP, '--min-p'),
        repetitionPenalty: parseNumberOption(options.repetitionPenalty, '--repetition-penalty'),
        seed: parseIntOption(options.seed, '--seed'),
        stopStrings: options.stop,
        decoder: engine.tokenizer?.streamDecoder({ skipSpecialTokens: true }),
        speculative: options.speculative,
        draftTokens: parseIntOption(options.draftTokens, '--draft-tokens', 1),
      };
      const gen = engine.generate({ tokens: promptTokens }, genOptions);
      const out = new TextSink(options.json ? null : process.stdout, Boolean(options.hideReasoning), promptText !== null && promptOpensThinking(promptText));
      if (!options.json && !options.chat && prompt !== undefined) process.stdout.write(prompt); // a continuation reads on from its prompt
      for await (const event of gen) out.write(event.text);
      out.end();
      if (!options.json) process.stdout.write('\n');
      const r = await gen.result;
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ tokens: r.tokens, text: r.text, finish_reason: r.finishReason, stats: r.stats })}\n`);
      } else {
        const s = r.stats;
        const mtp = s.speculative === 'mtp' ? ` · MTP acceptance ${(100 * s.acceptance_rate).toFixed(1)}% (${s.accepted}/${s.drafted}), ${s.tokens_per_step.toFixed(2)} tokens/step` : '';
        console.error(
          `\n[prefill ${s.prompt_tokens} tokens, ${s.prefill_tokens_per_s.toFixed(1)} tok/s · decode ${s.generated_tokens} tokens, ${s.decode_tokens_per_s.toFixed(1)} tok/s${mtp} · ${r.finishReason}]`,
        );
      }
    } finally {
      await engine.dispose();
    }
  });
}

/** The prompt from --tokens, a chat message or plain text; `text` is what the model reads, when known. */
function buildPrompt(prompt: string | undefined, o: GenerateCliOptions, engine: Engine): { tokens: number[]; text: string | null } {
  if (o.tokens !== undefined) {
    if (prompt !== undefined || o.chat) throw new InputError('--tokens', 'give either token ids or a text prompt, not both');
    return { tokens: parseTokenList(o.tokens), text: null };
  }
  if (prompt === undefined) throw new InputError('prompt', 'give a prompt text (or --tokens 1,2,3)');
  if (!engine.tokenizer) throw new InputError('prompt', 'this model folder has no tokenizer.json / tokenizer_config.json: give the prompt as --tokens');
  if (!o.chat) {
    if (o.system !== undefined) throw new InputError('--system', 'needs --chat');
    return { tokens: engine.encode(prompt), text: prompt };
  }
  const messages: ChatMessage[] = [...(o.system !== undefined ? [{ role: 'system' as const, content: o.system }] : []), { role: 'user', content: prompt }];
  return { tokens: engine.encode(messages), text: engine.renderChat(messages) };
}

/** Writes generated text to the terminal; R1-style reasoning is dimmed (or hidden). */
class TextSink {
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
