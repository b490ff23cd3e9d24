// `deepseek-webgpu chat`: a conversation in the terminal through Engine.chat(), so each turn prefills only
// what the earlier turns did not leave in the context. Answers stream as generate's do (R1 reasoning dimmed);
// Ctrl-C stops the answer being written and returns to the prompt. Lines starting with '/' are commands.
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline';
import type { Command } from 'commander';
import type { ChatSession } from '../chat-session.ts';
import type { GlobalOptions } from './global-options.ts';
import { describeSampling, samplingInUse } from '../config/generation-config.ts';
import type { GenerateOptions } from '../decode/generate.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import { promptOpensThinking } from '../tokenizer/think.ts';
import { addSamplingOptions, DEFAULT_MAX_NEW_TOKENS, parseGenerateOptions, type SamplingCliOptions } from './generate.ts';
import { TextSink } from './text-sink.ts';
import { addCacheTokensOption, addModelOptions, loadModelFromCli } from './load-model.ts';

interface ChatCliOptions extends SamplingCliOptions {
  system?: string;
}

const HELP = `commands: /reset (forget the conversation, keep the system prompt) · /save FILE · /load FILE · /help · /exit (or Ctrl-D)
Ctrl-C stops an answer; at the prompt, Ctrl-C twice leaves`;

export function register(program: Command): void {
  const chat = addModelOptions(
    program
      .command('chat')
      .description('a multi-turn conversation in the terminal (history kept in the KV cache between turns)')
      .option('--system <text>', 'the system prompt'),
  );
  addCacheTokensOption(chat, 'the context');
  addSamplingOptions(chat);
  chat.action(async (options: ChatCliOptions, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    let settings = parseGenerateOptions(options);
    const engine = await loadModelFromCli(options, fallback);
    try {
      if (!engine.tokenizer) throw new InputError('--model', 'this model folder has no tokenizer (tokenizer.json or tiktoken.model, with tokenizer_config.json): chat needs one');
      const session = engine.chat({ system: options.system });
      settings = withSeed(engine, settings);
      await new Repl(engine, session, settings, Boolean(options.hideReasoning)).run();
    } finally {
      await engine.dispose();
    }
  });
}

/** The settings a turn uses: a sampled chat gets one seed for the session, printed, as generate does. */
function withSeed(engine: Engine, parsed: GenerateOptions): GenerateOptions {
  const defaults = engine.generationDefaults;
  const sampling = samplingInUse(parsed, defaults);
  const seed = parsed.seed ?? (sampling.temperature > 0 ? Math.floor(Math.random() * 2 ** 32) : undefined);
  const modelBudget = defaults.maxNewTokens !== undefined || defaults.maxLength !== undefined;
  process.stderr.write(`[sampling: ${describeSampling(sampling, defaults.source)}${sampling.temperature > 0 ? ` · seed ${seed}` : ''}]\n`);
  return { ...parsed, seed, maxNewTokens: parsed.maxNewTokens ?? (modelBudget ? undefined : DEFAULT_MAX_NEW_TOKENS) };
}

class Repl {
  private readonly rl: Interface;
  /** Lines typed (or piped) but not yet read: readline emits them whether or not anyone is waiting. */
  private readonly lines: string[] = [];
  private closed = false;
  private wake = () => {};
  /** The answer being generated, which Ctrl-C aborts. */
  private answering: AbortController | null = null;
  /** Ctrl-C at an empty prompt once: a second one leaves. */
  private interrupted = false;
  private readonly tty = Boolean(process.stdin.isTTY);

  constructor(
    private readonly engine: Engine,
    private readonly session: ChatSession,
    private settings: GenerateOptions,
    private readonly hideReasoning: boolean,
  ) {
    this.rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ', terminal: this.tty });
    this.rl.on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.wake();
    });
    // On a terminal readline turns Ctrl-C into this event; from a pipe, the signal comes to the process.
    this.rl.on('SIGINT', () => this.interrupt());
    if (!this.tty) process.on('SIGINT', () => this.interrupt());
  }

  async run(): Promise<void> {
    if (this.tty) process.stderr.write(`${HELP}\n`);
    for (;;) {
      const line = await this.nextLine();
      if (line === null) break;
      this.interrupted = false;
      const text = line.trim();
      if (text === '') continue;
      if (text.startsWith('/')) {
        if (!(await this.command(text))) break;
      } else {
        await this.answer(line);
      }
    }
    this.rl.close();
    if (this.tty) process.stdout.write('\n');
  }

  private interrupt(): void {
    if (this.answering) {
      this.answering.abort();
      return;
    }
    if (this.rl.line !== '' && this.tty) {
      // A half-typed line is dropped, as shells do.
      this.rl.write(null, { ctrl: true, name: 'u' });
      return;
    }
    if (this.interrupted) {
      this.rl.close();
      return;
    }
    this.interrupted = true;
    process.stdout.write('\n');
    process.stderr.write('(Ctrl-C again, /exit or Ctrl-D to leave)\n');
    this.rl.prompt();
  }

  private async nextLine(): Promise<string | null> {
    if (this.lines.length === 0 && !this.closed) this.rl.prompt();
    while (this.lines.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
    return this.lines.shift()!;
  }

  /** Runs a /command; false when it ends the session. */
  private async command(text: string): Promise<boolean> {
    const [name, ...rest] = text.split(/\s+/);
    const file = rest.join(' ');
    try {
      switch (name) {
        case '/exit':
        case '/quit':
          return false;
        case '/help':
          process.stderr.write(`${HELP}\n`);
          break;
        case '/reset':
          this.session.reset();
          process.stderr.write('[conversation forgotten]\n');
          break;
        case '/save':
          if (!file) throw new InputError('/save', 'give a file name');
          await writeFile(file, `${JSON.stringify(this.session.save(savedSettings(this.settings)), null, 2)}\n`);
          process.stderr.write(`[saved ${this.session.messages.length} messages to ${file}]\n`);
          break;
        case '/load': {
          if (!file) throw new InputError('/load', 'give a file name');
          const saved = this.session.load(JSON.parse(await readFile(file, 'utf8')));
          this.settings = { ...this.settings, ...loadedSettings(saved) };
          process.stderr.write(`[loaded ${this.session.messages.length} messages from ${file}]\n`);
          break;
        }
        default:
          process.stderr.write(`unknown command ${name}; ${HELP}\n`);
      }
    } catch (e) {
      process.stderr.write(`${name}: ${(e as Error).message}\n`);
    }
    return true;
  }

  private async answer(text: string): Promise<void> {
    const abort = new AbortController();
    this.answering = abort;
    try {
      const turn = this.session.send(text, {
        ...this.settings,
        signal: abort.signal,
        decoder: this.engine.tokenizer!.streamDecoder({ skipSpecialTokens: true }),
      });
      if (turn.dropped) process.stderr.write(dim(`[the context is full: the ${turn.dropped} oldest messages were dropped]\n`));
      const opensThinking = promptOpensThinking(this.engine.renderChat(this.session.messages.concat({ role: 'user', content: text })));
      const sink = new TextSink(process.stdout, this.hideReasoning, opensThinking);
      for await (const event of turn) sink.write(event.text);
      sink.end();
      const r = await turn.result;
      const s = r.stats;
      const mtp = s.speculative === 'mtp' ? ` · MTP ${(100 * s.acceptanceRate).toFixed(0)}%` : '';
      const stopped = r.finishReason === 'aborted' ? ' · stopped' : ` · ${r.finishReason}`;
      process.stdout.write('\n');
      process.stderr.write(
        dim(`[prefill ${s.promptTokens - s.cachedTokens} new tokens (${s.cachedTokens} kept), ${s.prefillTokensPerSecond.toFixed(1)} tok/s · decode ${s.generatedTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tok/s${mtp}${stopped}]\n`),
      );
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      process.stderr.write(`${e.message}\n`);
    } finally {
      this.answering = null;
    }
  }
}

function dim(text: string): string {
  return process.stderr.isTTY ? `\x1b[2m${text.replace(/\n$/, '')}\x1b[0m\n` : text;
}

// The settings a /save file keeps: the sampling and budget ones (not the signal or the decoder).
const KEPT = ['maxNewTokens', 'temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'seed', 'stopStrings', 'speculative', 'draftTokens'] as const;

function savedSettings(settings: GenerateOptions): Record<string, unknown> {
  return Object.fromEntries(KEPT.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]]));
}

/** A saved file's settings, only the known ones (a hand-edited file's others are ignored). */
function loadedSettings(saved: Record<string, unknown>): GenerateOptions {
  return Object.fromEntries(KEPT.filter((k) => saved[k] !== undefined).map((k) => [k, saved[k]])) as GenerateOptions;
}
