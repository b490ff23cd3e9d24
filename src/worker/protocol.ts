// The messages between a page and the engine in a Web Worker (worker-host.ts serves them, worker-engine.ts
// sends them). Every request carries an id; the worker answers it with any number of `progress` or `item`
// messages (load progress; generated events or completion chunks) and then one `done` or `error`. Only
// structured-cloneable data crosses: options lose their callbacks and signals (an `abort` request stops a
// running call), errors travel as class name and message and are rebuilt as the same class.
import type { ChatCompletionRequest } from '../chat-completions.ts';
import type { ChatSessionOptions, ChatTurnOptions } from '../chat-session.ts';
import type { GenerationDefaults } from '../config/generation-config.ts';
import type { GenerateOptions } from '../decode/generate.ts';
import type { LoadPhase, ModelLoadOptions } from '../model/deepseek-model.ts';
import type { ChatMessage } from '../tokenizer/chat-template.ts';
import type { Prompt } from '../engine.ts';

/** Load options that can cross to the worker (no callbacks, no device, no fetch). */
export type WorkerLoadOptions = Omit<ModelLoadOptions, 'onProgress'> & {
  /** Keep the checkpoint's ranges in the browser's Cache API (default true), as loadModel's `cache`. */
  cache?: boolean;
  /** Extra request headers for a URL (the http options' fetch and signal cannot cross). */
  headers?: Record<string, string>;
};

/** generate() options that can cross (the signal stays in the page: abort() sends an `abort` request). */
export type WorkerGenerateOptions = Omit<GenerateOptions, 'signal' | 'decoder' | 'beforeStart' | 'onSettled'>;

export type WorkerRequest = { id: number } & (
  | { type: 'load'; from: string | readonly File[]; options: WorkerLoadOptions }
  | { type: 'generate'; prompt: Prompt; options: WorkerGenerateOptions }
  | { type: 'encode'; prompt: Prompt }
  | { type: 'chat-open'; chat: number; options: ChatSessionOptions }
  | { type: 'chat-send'; chat: number; message: string; options: Omit<ChatTurnOptions, 'signal' | 'decoder'> }
  | { type: 'chat-messages'; chat: number }
  | { type: 'chat-reset'; chat: number }
  | { type: 'completion'; request: ChatCompletionRequest }
  | { type: 'abort'; target: number }
  | { type: 'dispose' }
);

/** What a load tells the page about the model; the config crosses as its config.json text (parsed again there). */
export interface LoadedModel {
  name: string;
  configJson: string;
  configFile: string;
  generationDefaults: GenerationDefaults;
  hasTokenizer: boolean;
}

export interface SentError {
  name: string;
  message: string;
}

export type WorkerReply = { id: number } & (
  | { type: 'progress'; done: number; total: number; phase: LoadPhase }
  | { type: 'item'; value: unknown }
  | { type: 'done'; value?: unknown }
  | { type: 'error'; error: SentError }
);

export type { ChatMessage };
