// A multi-turn chat over an Engine whose history stays in the model's context between turns. Each turn renders
// the whole conversation with the chat template and tokenizes it; the engine keeps the part of the context the
// previous turn left that the new prompt starts with, and prefills only the rest. The template renders earlier
// turns the same way every time, but that alone does not make the whole history reusable: re-tokenizing the
// model's answer can split it differently from the tokens it generated, the end-of-answer token was never
// appended, and R1's template drops earlier reasoning. From the first difference on, the prompt is prefilled
// again, so a turn's output is what a fresh generation over the whole conversation would give.
import type { GenerateOptions, Generation } from './decode/generate.ts';
import { findStopString } from './decode/stopping.ts';
import type { ModelEngine } from './engine.ts';
import { InputError } from './errors.ts';
import type { ChatMessage, ChatRole } from './tokenizer/chat-template.ts';

export interface ChatSessionOptions {
  /** The system prompt; reset() keeps it. */
  system?: string;
}

/** generate()'s options, less the hooks the session itself uses. */
export type ChatTurnOptions = Omit<GenerateOptions, 'beforeStart' | 'onSettled'>;

export interface ChatTurn extends Generation {
  /**
   * Messages dropped from the start of the conversation (the system prompt is kept) so that this turn's prompt
   * and room for its answer fit the context; 0 mostly. They are gone from `messages` too.
   */
  readonly dropped: number;
}

/** A conversation as save() writes it and load() reads it back (the CLI's /save and /load files). */
export interface SavedChat {
  format: typeof FORMAT;
  version: 1;
  messages: ChatMessage[];
  /** Whatever the caller wants kept with the conversation (the CLI: its sampling settings). */
  settings: Record<string, unknown>;
}

const FORMAT = 'deepseek-webgpu-chat';
/** The budget assumed for an answer when neither the options nor generation_config.json give one (as generate()). */
const DEFAULT_ANSWER_BUDGET = 256;
const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

export class ChatSession {
  private history: ChatMessage[] = [];
  /** A turn was sent and has not settled: the next must wait for its answer to be in the history. */
  private busy = false;

  /** Made by Engine.chat(). */
  constructor(
    private readonly engine: ModelEngine,
    options: ChatSessionOptions = {},
  ) {
    if (options.system !== undefined) this.history.push({ role: 'system', content: options.system });
  }

  /** The conversation so far (copies); assistant messages keep their reasoning, the template drops it. */
  get messages(): ChatMessage[] {
    return this.history.map((m) => ({ ...m }));
  }

  /**
   * Sends a user message and generates the answer, which joins the history when the generation ends (also
   * when it is aborted or stopped early: the history then holds the part that was generated; a turn stopped
   * before its first token is forgotten, user message included). Iterate the result or read `result`, as
   * with Engine.generate(); one turn at a time.
   */
  send(text: string, options: ChatTurnOptions = {}): ChatTurn {
    if (typeof text !== 'string') throw new InputError('message', 'must be a string');
    if (this.busy) throw new InputError('chat', 'the previous answer has not ended: consume or abort its generation first');
    const tokenizer = this.engine.tokenizer!; // Engine.chat() checked there is one
    const { messages, tokens, dropped } = this.fit([...this.history, { role: 'user', content: text }], options);
    const gen = this.engine.continueGeneration(this, tokens, {
      ...options,
      onSettled: (generated) => {
        this.busy = false;
        if (generated.length === 0) return;
        let answer = tokenizer.decode(generated, { skipSpecialTokens: true });
        // generate() cuts its text at a stop string; the tokens still hold it.
        const stop = options.stopStrings?.length ? findStopString(answer, options.stopStrings, 0) : null;
        if (stop) answer = answer.slice(0, stop.index);
        this.history = [...messages, { role: 'assistant', content: answer }];
      },
    });
    this.busy = true;
    this.history = messages.slice(0, -1); // without the new message until it has an answer
    return Object.assign(gen, { dropped });
  }

  /** Forgets the conversation, except the system prompt. */
  reset(): void {
    if (this.busy) throw new InputError('chat', 'an answer is being generated: abort it first');
    this.history = this.history.filter((m) => m.role === 'system');
  }

  /** The conversation as JSON-ready data, with `settings` kept alongside. */
  save(settings: Record<string, unknown> = {}): SavedChat {
    return { format: FORMAT, version: 1, messages: this.messages, settings: { ...settings } };
  }

  /**
   * Replaces the conversation with a saved one (save()'s object, parsed JSON); returns its settings. The next
   * turn prefills the loaded history (or the part the context does not already hold).
   */
  load(saved: unknown): Record<string, unknown> {
    if (this.busy) throw new InputError('chat', 'an answer is being generated: abort it first');
    const chat = parseSavedChat(saved);
    this.history = chat.messages;
    return chat.settings;
  }

  /**
   * The conversation's prompt, with the oldest messages after the system prompt dropped (a user message and
   * the answers after it at a time) until it leaves room for an answer: the token budget, at most half the
   * context. The new message itself is never dropped; if it does not fit alone, generation reports it.
   */
  private fit(messages: ChatMessage[], options: ChatTurnOptions): { messages: ChatMessage[]; tokens: number[]; dropped: number } {
    const maxLength = this.engine.model.maxLength;
    const budget = options.maxNewTokens ?? this.engine.generationDefaults.maxNewTokens ?? DEFAULT_ANSWER_BUDGET;
    const room = Math.min(budget, Math.floor(maxLength / 2));
    let dropped = 0;
    for (;;) {
      const tokens = this.engine.encode(messages);
      const first = messages.findIndex((m) => m.role !== 'system');
      const last = messages.length - 1;
      if (tokens.length + room <= maxLength || first >= last) return { messages, tokens, dropped };
      let end = first + 1;
      while (end < last && messages[end].role !== 'user') end++;
      dropped += end - first;
      messages = [...messages.slice(0, first), ...messages.slice(end)];
    }
  }
}

/** A saved conversation checked: the format tag, and messages with known roles and string contents. */
export function parseSavedChat(value: unknown): SavedChat {
  const v = value as Partial<SavedChat> | null;
  if (typeof v !== 'object' || v === null || v.format !== FORMAT) throw new InputError('chat', `not a saved chat (expected "format": "${FORMAT}")`);
  if (v.version !== 1) throw new InputError('chat', `saved chat version ${JSON.stringify(v.version)} is not supported (expected 1)`);
  if (!Array.isArray(v.messages)) throw new InputError('chat', 'saved chat has no "messages" list');
  const messages = v.messages.map((m: unknown, i) => {
    const { role, content } = (m ?? {}) as Partial<ChatMessage>;
    if (!ROLES.includes(role as ChatRole) || typeof content !== 'string') {
      throw new InputError('chat', `saved message ${i} needs a role (system, user or assistant) and a string content`);
    }
    return { role: role as ChatRole, content };
  });
  const settings = typeof v.settings === 'object' && v.settings !== null && !Array.isArray(v.settings) ? { ...v.settings } : {};
  return { format: FORMAT, version: 1, messages, settings };
}
