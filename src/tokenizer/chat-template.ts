// Chat prompts from tokenizer_config.json's Jinja `chat_template`, rendered with @huggingface/jinja the way
// transformers' apply_chat_template does. The template writes BOS itself, so the rendered text is encoded
// without adding another (encodeChat). See docs/conventions.md "Tokenizer and chat template".
import { Template } from '@huggingface/jinja';
import { CheckpointError, InputError } from '../errors.ts';
import { stripReasoning } from './think.ts';
import { tokenContent, type TextTokenizer } from './tokenizer.ts';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface RenderOptions {
  /** End with the assistant's turn opener (`<｜Assistant｜>`) so the model answers. Default true. */
  addGenerationPrompt?: boolean;
  /**
   * Drop `...</think>` reasoning from assistant messages before rendering, as DeepSeek advises for R1
   * multi-turn chats. R1's template does this itself; V3's does not. Default true.
   */
  stripReasoning?: boolean;
}

const ROLES: ReadonlySet<string> = new Set<ChatRole>(['system', 'user', 'assistant']);
// The special tokens transformers passes to every chat template, as plain strings.
const TOKEN_FIELDS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'];

export class ChatTemplate {
  private readonly template: Template;

  /** `tokens`: the template's special-token variables (bos_token, eos_token, ...) as strings. */
  constructor(
    readonly source: string,
    private readonly tokens: Readonly<Record<string, string>>,
    readonly file = 'tokenizer_config.json',
  ) {
    try {
      this.template = new Template(source); // parsed once; a server renders it per request
    } catch (e) {
      throw new CheckpointError(file, `chat_template does not parse: ${(e as Error).message}`);
    }
  }

  /** The template of a parsed tokenizer_config.json; a CheckpointError naming `file` when it has none. */
  static fromConfig(config: unknown, file = 'tokenizer_config.json'): ChatTemplate {
    const source = templateSource(config);
    if (source === null) throw new CheckpointError(file, 'has no chat_template (a string, or a list with a "default" entry)');
    const tokens: Record<string, string> = {};
    for (const field of TOKEN_FIELDS) {
      const content = tokenContent((config as Record<string, unknown>)[field]);
      if (content !== null) tokens[field] = content;
    }
    return new ChatTemplate(source, tokens, file);
  }

  /** The prompt text for `messages`; special tokens appear as text (`<｜User｜>`), which encode() maps to ids. */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    checkMessages(messages);
    const strip = options.stripReasoning ?? true;
    const history = messages.map((m) =>
      strip && m.role === 'assistant' ? { role: m.role, content: stripReasoning(m.content) } : { role: m.role, content: m.content },
    );
    try {
      return this.template.render({
        ...this.tokens,
        messages: history,
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (e) {
      throw new CheckpointError(this.file, `chat_template failed to render: ${(e as Error).message}`);
    }
  }
}

/** Whether a parsed tokenizer_config.json carries a usable chat template. */
export function hasChatTemplate(config: unknown): boolean {
  return templateSource(config) !== null;
}

/** Renders `messages` and encodes the prompt, adding no BOS beyond the one the template writes. */
export function encodeChat(
  tokenizer: TextTokenizer,
  template: ChatTemplate,
  messages: readonly ChatMessage[],
  options: RenderOptions = {},
): number[] {
  return tokenizer.encode(template.render(messages, options), { addBos: false });
}

// transformers accepts a single template or a list of named ones; chat uses the one named "default".
function templateSource(config: unknown): string | null {
  if (typeof config !== 'object' || config === null) return null;
  const value = (config as Record<string, unknown>).chat_template;
  if (typeof value === 'string' && value !== '') return value;
  if (Array.isArray(value)) {
    const entry = value.find((t) => typeof t === 'object' && t !== null && t.name === 'default');
    if (typeof entry?.template === 'string') return entry.template;
  }
  return null;
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new InputError('messages', 'expected an array of {role, content}');
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || !ROLES.has(m.role)) {
      throw new InputError('messages', `message ${i}: role must be 'system', 'user' or 'assistant', got ${JSON.stringify(m?.role)}`);
    }
    if (typeof m.content !== 'string') throw new InputError('messages', `message ${i}: content must be a string`);
  });
}
