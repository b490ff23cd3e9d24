// ChatTemplate on the trained tiny model's tokenizer_config.json, plus the config shapes and failures a
// checkpoint can bring (AddedToken objects or strings, template lists, no template, a template that throws).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CheckpointError, InputError } from '../errors.ts';
import { ChatTemplate, encodeChat, hasChatTemplate, type ChatMessage } from './chat-template.ts';
import { TextTokenizer } from './tokenizer.ts';

const DIR = 'weights/tiny-v3-trained';
const config = JSON.parse(readFileSync(`${DIR}/tokenizer_config.json`, 'utf8'));
const tokenizerJson = JSON.parse(readFileSync(`${DIR}/tokenizer.json`, 'utf8'));

describe('tiny-v3-trained chat template', () => {
  const template = ChatTemplate.fromConfig(config);

  it('renders one user message as BOS, the user turn and the assistant opener', () => {
    expect(template.render([{ role: 'user', content: 'Hello' }])).toBe('<｜begin▁of▁sentence｜><｜User｜>Hello<｜Assistant｜>');
  });

  it('encodes that prompt with one BOS and the turn markers as single ids', () => {
    const tok = new TextTokenizer(tokenizerJson, config);
    const hello = tok.encode('Hello', { addBos: false });
    expect(encodeChat(tok, template, [{ role: 'user', content: 'Hello' }])).toEqual([0, 3, ...hello, 4]);
  });

  it('puts system prompts first and closes past assistant turns with EOS', () => {
    const chat: ChatMessage[] = [
      { role: 'user', content: 'A' },
      { role: 'system', content: 'S' },
      { role: 'assistant', content: 'B' },
      { role: 'user', content: 'C' },
    ];
    expect(template.render(chat, { addGenerationPrompt: false })).toBe(
      '<｜begin▁of▁sentence｜>S<｜User｜>A<｜Assistant｜>B<｜end▁of▁sentence｜><｜User｜>C',
    );
  });
});

describe('chat template configs', () => {
  const simple = '{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ eos_token }}';

  it('takes bos_token / eos_token as strings or AddedToken objects', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'x' }];
    const asStrings = ChatTemplate.fromConfig({ chat_template: simple, bos_token: '<s>', eos_token: '</s>' });
    const asObjects = ChatTemplate.fromConfig({ chat_template: simple, bos_token: { content: '<s>' }, eos_token: { __type: 'AddedToken', content: '</s>' } });
    expect(asStrings.render(messages)).toBe('<s>[user:x]</s>');
    expect(asObjects.render(messages)).toBe('<s>[user:x]</s>');
  });

  it('uses the "default" entry of a template list', () => {
    const config = { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D{{ messages | length }}' }] };
    expect(hasChatTemplate(config)).toBe(true);
    expect(ChatTemplate.fromConfig(config).render([{ role: 'user', content: 'x' }])).toBe('D1');
  });

  it('names tokenizer_config.json when there is no template', () => {
    expect(hasChatTemplate({ bos_token: '<s>' })).toBe(false);
    expect(() => ChatTemplate.fromConfig({ bos_token: '<s>' })).toThrow(CheckpointError);
    expect(() => ChatTemplate.fromConfig({}, 'models/x/tokenizer_config.json')).toThrow(/models\/x\/tokenizer_config\.json: has no chat_template/);
    expect(() => ChatTemplate.fromConfig({ chat_template: [{ name: 'rag', template: 'R' }] })).toThrow(/no chat_template/);
  });

  it('names tokenizer_config.json when the template does not parse or fails to render', () => {
    expect(() => ChatTemplate.fromConfig({ chat_template: '{% for m in messages %}' })).toThrow(/tokenizer_config\.json: chat_template does not parse/);
    const strict = ChatTemplate.fromConfig({
      chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with a user turn') }}{% endif %}ok",
    });
    expect(strict.render([{ role: 'user', content: 'x' }])).toBe('ok');
    expect(() => strict.render([{ role: 'assistant', content: 'x' }])).toThrow(
      /tokenizer_config\.json: chat_template failed to render: .*Conversation must start with a user turn/,
    );
  });

  it('rejects malformed messages with InputError naming the message', () => {
    const template = ChatTemplate.fromConfig({ chat_template: simple });
    expect(() => template.render([{ role: 'tool', content: 'x' } as unknown as ChatMessage])).toThrow(InputError);
    expect(() => template.render([{ role: 'user', content: 'a' }, { role: 'user' } as ChatMessage])).toThrow(
      /messages: message 1: content must be a string/,
    );
  });
});
