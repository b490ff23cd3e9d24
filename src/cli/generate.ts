// `deepseek-webgpu generate [PROMPT]`: streams a continuation (or a chat answer) as it is produced, then
// prints prefill and decode speed. --json prints one JSON object instead.
import { Option, type Command } from 'commander';
import type { GlobalOptions } from './global-options.ts';
import { describeSampling, samplingInUse } from '../config/generation-config.ts';
import type { GenerateOptions } from '../decode/generate.ts';
import { resolveSampling } from '../decode/sampling.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import type { ChatMessage } from '../tokenizer/chat-template.ts';
import { promptOpensThinking } from '../tokenizer/think.ts';
import { parseTokenList } from './arguments.ts';
import { TextSink } from './text-sink.ts';
import { parseSamplesOptions, runSamples, type SamplesCliOptions } from './generate-samples.ts';
import { addCacheTokensOption, addModelOptions, loadModelFromCli, parseIntOption, parseNumberOption, type ModelCliOptions } from './load-model.ts';
import { statsJson } from '../decode/stats-json.ts';

interface GenerateCliOptions extends SamplingCliOptions, SamplesCliOptions {
  prompt?: string;
  chat?: boolean;
  system?: string;
  tokens?: string;
  json?: boolean;
}

/** The sampling and decoding flags generate and chat share (addSamplingOptions). */
export interface SamplingCliOptions extends ModelCliOptions {
  maxNewTokens?: string;
  temperature?: string;
  temp?: string;
  topK?: string;
  topP?: string;
  minP?: string;
  repetitionPenalty?: string;
  seed?: string;
  stop: string[];
  hideReasoning?: boolean;
  reasoningBudget?: string;
  speculative?: 'mtp' | 'none';
  draftTokens: string | number;
}

// A speculative step verifies its drafts in one forward pass over at most a prefill chunk (64) of positions.
const MAX_DRAFT_TOKENS = 63;
/** The budget when neither --max-new-tokens nor the model's generation_config.json gives one. */
export const DEFAULT_MAX_NEW_TOKENS = 128;

export function register(program: Command): void {
  const generate = addModelOptions(
    program
      .command('generate')
      .description('generate text from a prompt (streams tokens as they are produced)')
      .argument('[prompt]', 'prompt text (tokenized with the model folder\'s tokenizer.json)')
      .option('-p, --prompt <text>', 'the prompt, as an option instead of the argument')
      .option('--chat', 'wrap the prompt as a user message in the chat template')
      .option('--system <text>', 'a system message (with --chat)')
      .option('--tokens <ids>', 'the prompt as comma-separated token ids instead of text'),
  );
  addCacheTokensOption(generate, 'the context; --samples share it');
  addSamplingOptions(generate)
    .option('--samples <n>', 'draw n answers (seeds seed, seed + 1, ...) in one batch, each printed in order when done')
    .option('--vote', 'with --samples: print only the majority answer (after </think>; the last \\boxed{...} if any), its votes and the tally')
    .option('--answer-pattern <regex>', 'with --samples: the answer is the last match of this JavaScript regex (its first group, if any)')
    .option('--json', 'print one JSON object (tokens, text, stats) instead of streaming text');
  generate.action(async (argument: string | undefined, options: GenerateCliOptions, command: Command) => {
    const { fallback } = command.optsWithGlobals<GlobalOptions>();
    // Everything that can be checked without the model is, so a bad argument fails in milliseconds.
    const prompt = promptArgument(argument, options);
    const idPrompt = checkPromptArguments(prompt, options);
    const parsed = parseGenerateOptions(options);
    const samples = parseSamplesOptions(options);
    const engine = await loadModelFromCli(options, fallback);
    try {
      const { tokens: promptTokens, text: promptText } = buildPrompt(prompt, idPrompt, options, engine);
      // The model's generation_config.json fills what the flags leave out. A sampled run gets a seed even
      // when none is given, printed, so that a run worth keeping can be repeated.
      const defaults = engine.generationDefaults;
      const sampling = samplingInUse(parsed, defaults);
      const seed = parsed.seed ?? (sampling.temperature > 0 ? Math.floor(Math.random() * 2 ** 32) : undefined);
      const modelBudget = defaults.maxNewTokens !== undefined || defaults.maxLength !== undefined;
      const genOptions: GenerateOptions = {
        ...parsed,
        seed,
        maxNewTokens: parsed.maxNewTokens ?? (modelBudget ? undefined : DEFAULT_MAX_NEW_TOKENS),
        decoder: engine.tokenizer?.streamDecoder({ skipSpecialTokens: true }),
      };
      process.stderr.write(`[sampling: ${describeSampling(sampling, defaults.source)}${sampling.temperature > 0 ? ` · seed ${seed}` : ''}]\n`);
      const s = sampling;
      const used = { temperature: s.temperature, top_k: s.topK, top_p: s.topP, min_p: s.minP, repetition_penalty: s.repetitionPenalty, seed: s.temperature > 0 ? seed : null };
      const opensThinking = promptText !== null && promptOpensThinking(promptText);
      if (samples) {
        const run = { json: Boolean(options.json), hideReasoning: Boolean(options.hideReasoning), opensThinking, sampling: used };
        const { decoder: _oneSequence, ...perSample } = genOptions; // the engine gives each sample its own decoder
        return await runSamples(engine, promptTokens, perSample, samples, run);
      }
      const gen = engine.generate({ tokens: promptTokens }, genOptions);
      const out = new TextSink(options.json ? null : process.stdout, Boolean(options.hideReasoning), opensThinking);
      if (!options.json && !options.chat && prompt !== undefined) process.stdout.write(prompt); // a continuation reads on from its prompt
      for await (const event of gen) out.write(event.text);
      out.end();
      if (!options.json) process.stdout.write('\n');
      const r = await gen.result;
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ tokens: r.tokens, text: r.text, finish_reason: r.finishReason, sampling: used, stats: statsJson(r.stats) })}\n`);
      } else {
        const s = r.stats;
        const mtp = s.speculative === 'mtp' ? ` · MTP acceptance ${(100 * s.acceptanceRate).toFixed(1)}% (${s.accepted}/${s.drafted}), ${s.tokensPerStep.toFixed(2)} tokens/step` : '';
        const e = s.expertCache;
        const experts = e
          ? ` · expert cache ${(100 * e.hitRate).toFixed(1)}% hits, ${(e.bytesUploadedPerToken / 2 ** 20).toFixed(2)} MiB and ${e.stallMsPerToken.toFixed(1)} ms stalled per token`
          : '';
        console.error(
          `\n[prefill ${s.promptTokens} tokens, ${s.prefillTokensPerSecond.toFixed(1)} tok/s · decode ${s.generatedTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tok/s${mtp}${experts} · ${r.finishReason}]`,
        );
      }
    } finally {
      await engine.dispose();
    }
  });
}

/** The sampling and decoding flags (SamplingCliOptions). */
export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('-n, --max-new-tokens <n>', `stop after this many tokens (default: the model's generation_config.json, else ${DEFAULT_MAX_NEW_TOKENS})`)
    .option('--temperature <t>', "0 = greedy; > 0 samples (default: the model's generation_config.json, else 0)")
    .addOption(new Option('--temp <t>', 'the same as --temperature').hideHelp())
    .option('--top-k <k>', 'sample among the k most likely tokens (0 = off)')
    .option('--top-p <p>', 'sample among the smallest set reaching probability p (1 = off)')
    .option('--min-p <p>', 'drop tokens less likely than p times the most likely (0 = off)')
    .option('--repetition-penalty <r>', 'make recent tokens less likely (1 = off)')
    .option('-s, --seed <n>', 'random seed: the same seed and options give the same output (default: a random one, printed)')
    .option('--stop <text>', 'stop when this text is produced (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--hide-reasoning', 'hide the <think> part of R1-style answers')
    .option('--reasoning-budget <t>', 'end an R1 <think> section after this many tokens by writing </think>; the answer follows')
    .addOption(new Option('--speculative <mode>', 'mtp: draft with the MTP head and verify (default when the model has one); none').choices(['mtp', 'none']))
    .addOption(new Option('--draft-tokens <k>', 'drafts per step with --speculative mtp (the MTP head chained on its own output)').default(1));
}

/** The numeric options, range-checked as the engine would check them, but named as the flags are. */
export function parseGenerateOptions(o: SamplingCliOptions): GenerateOptions {
  if (o.temp !== undefined && o.temperature !== undefined) throw new InputError('--temp', 'is another name for --temperature: give one of them');
  const options: GenerateOptions = {
    maxNewTokens: parseIntOption(o.maxNewTokens, '--max-new-tokens'),
    temperature: o.temp !== undefined ? parseNumberOption(o.temp, '--temp') : parseNumberOption(o.temperature, '--temperature'),
    topK: parseIntOption(o.topK, '--top-k'),
    topP: parseNumberOption(o.topP, '--top-p'),
    minP: parseNumberOption(o.minP, '--min-p'),
    repetitionPenalty: parseNumberOption(o.repetitionPenalty, '--repetition-penalty'),
    seed: parseIntOption(o.seed, '--seed'),
    stopStrings: o.stop,
    speculative: o.speculative,
    draftTokens: parseIntOption(o.draftTokens, '--draft-tokens', 1),
    reasoningBudget: parseIntOption(o.reasoningBudget, '--reasoning-budget'),
  };
  if (options.draftTokens !== undefined && options.draftTokens > MAX_DRAFT_TOKENS) {
    throw new InputError('--draft-tokens', `at most ${MAX_DRAFT_TOKENS} (one verify pass holds 64 positions), got ${options.draftTokens}`);
  }
  try {
    resolveSampling(options);
  } catch (e) {
    // The engine names its options without dashes ('top-p'); on the command line they are flags.
    if (e instanceof InputError) {
      const flag = e.argument === 'temperature' && o.temp !== undefined ? '--temp' : `--${e.argument}`;
      throw new InputError(flag, e.message.slice(e.argument.length + 2));
    }
    throw e;
  }
  return options;
}

/** The prompt text: the argument or -p/--prompt (llama.cpp's habit), not both. */
function promptArgument(argument: string | undefined, o: GenerateCliOptions): string | undefined {
  if (argument !== undefined && o.prompt !== undefined) throw new InputError('--prompt', 'give the prompt as the argument or with --prompt, not both');
  return argument ?? o.prompt;
}

/** The prompt arguments' consistency, and --tokens parsed (null for a text prompt, which needs the tokenizer). */
function checkPromptArguments(prompt: string | undefined, o: GenerateCliOptions): number[] | null {
  if (o.tokens !== undefined) {
    if (prompt !== undefined || o.chat) throw new InputError('--tokens', 'give either token ids or a text prompt, not both');
    return parseTokenList(o.tokens);
  }
  if (prompt === undefined) throw new InputError('prompt', 'give a prompt text (or --tokens 1,2,3)');
  if (o.system !== undefined && !o.chat) throw new InputError('--system', 'needs --chat');
  return null;
}

/** The prompt from --tokens, a chat message or plain text; `text` is what the model reads, when known. */
function buildPrompt(prompt: string | undefined, ids: number[] | null, o: GenerateCliOptions, engine: Engine): { tokens: number[]; text: string | null } {
  if (ids !== null || prompt === undefined) return { tokens: ids ?? [], text: null };
  if (!engine.tokenizer) throw new InputError('prompt', 'this model folder has no tokenizer (tokenizer.json or tiktoken.model, with tokenizer_config.json): give the prompt as --tokens');
  if (!o.chat) return { tokens: engine.encode(prompt), text: prompt };
  const messages: ChatMessage[] = [...(o.system !== undefined ? [{ role: 'system' as const, content: o.system }] : []), { role: 'user', content: prompt }];
  return { tokens: engine.encode(messages), text: engine.renderChat(messages) };
}
