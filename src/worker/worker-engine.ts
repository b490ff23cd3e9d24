// The engine in a Web Worker, seen from the page: loadModelInWorker() starts a worker running the worker
// bundle (dist/browser/deepseek-webgpu-worker.js), loads the model there, and returns a WorkerEngine whose
// generate / chat / chat.completions.create / encode / dispose mirror the Engine's, so decoding never blocks
// the page. Calls are messages (protocol.ts); a signal passed in options stops the call in the worker, and the
// worker's errors are thrown here as the same classes (InputError, CheckpointError, ...). Browser-safe.
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, CreateOptions } from '../chat-completions.ts';
import type { ChatSessionOptions, ChatTurnOptions } from '../chat-session.ts';
import type { GenerationDefaults } from '../config/generation-config.ts';
import { parseModelConfig, type ModelConfig } from '../config/model-config.ts';
import type { GenerateEvent, GenerateOptions, GenerateResult, Generation } from '../decode/generate.ts';
import type { Prompt } from '../engine.ts';
import { CheckpointError, ConfigError, GpuError, GpuLimitError, InputError, ShaderError } from '../errors.ts';
import type { LoadPhase } from '../model/deepseek-model.ts';
import type { ChatMessage } from '../tokenizer/chat-template.ts';
import type { LoadedModel, SentError, WorkerLoadOptions, WorkerReply, WorkerRequest } from './protocol.ts';

/** The worker bundle beside the library bundle (dist/browser/); with another build, pass `worker`. */
const WORKER_BUNDLE = './deepseek-webgpu-worker.js';

export interface WorkerLoadModelOptions extends WorkerLoadOptions {
  /** Load progress by phase, as loadModel's (reported here as the worker sends it). */
  onProgress?: (done: number, total: number, phase: LoadPhase) => void;
  /** Stops the load (the worker is then terminated). */
  signal?: AbortSignal;
  /**
   * A worker already running the worker bundle (or anything that talks to serveEngine() the same way), or the
   * bundle's URL; default the bundle beside this module.
   */
  worker?: WorkerLike | string | URL;
}

/** What the proxy needs of a Worker. */
export interface WorkerLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: MessageEvent & ErrorEvent) => void): void;
  terminate(): void;
}

/** The model at `from` (a URL, or picked files) loaded in a new Web Worker. */
export async function loadModelInWorker(from: string | URL | FileList | readonly File[], options: WorkerLoadModelOptions = {}): Promise<WorkerEngine> {
  const { onProgress, signal, worker, ...load } = options;
  const started = typeof worker === 'object' && !(worker instanceof URL) ? worker : new Worker(worker ?? new URL(WORKER_BUNDLE, import.meta.url), { type: 'module' });
  const connection = new Connection(started);
  const location = typeof from === 'string' || from instanceof URL ? absoluteUrl(from) : Array.from(from as ArrayLike<File>);
  try {
    const call = connection.call({ type: 'load', from: location, options: load }, { onProgress });
    signal?.addEventListener('abort', () => connection.fail(new CheckpointError(String(location), 'load aborted')), { once: true });
    const model = (await call.done) as LoadedModel;
    return new WorkerEngine(connection, model);
  } catch (e) {
    connection.terminate();
    throw e;
  }
}

/** A URL relative to the page made absolute (the worker's own location differs); one that is not a URL as given, for the worker to refuse. */
function absoluteUrl(url: string | URL): string {
  try {
    return new URL(url, (globalThis as { location?: { href: string } }).location?.href).href;
  } catch {
    return String(url);
  }
}

export type WorkerChatEntry = ((options?: ChatSessionOptions) => WorkerChat) & {
  readonly completions: {
    create(request: ChatCompletionRequest & { stream: true }, options?: CreateOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
    create(request: ChatCompletionRequest & { stream?: false | null }, options?: CreateOptions): Promise<ChatCompletion>;
    create(request: ChatCompletionRequest, options?: CreateOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  };
};

export class WorkerEngine {
  readonly name: string;
  readonly config: ModelConfig;
  readonly generationDefaults: GenerationDefaults;
  /** False when the folder has no tokenizer: prompts must then be token ids. */
  readonly hasTokenizer: boolean;
  readonly chat: WorkerChatEntry;
  private chats = 0;

  constructor(
    private readonly connection: Connection,
    model: LoadedModel,
  ) {
    this.name = model.name;
    this.config = parseModelConfig(JSON.parse(model.configJson), model.configFile);
    this.generationDefaults = model.generationDefaults;
    this.hasTokenizer = model.hasTokenizer;
    const create = async (request: ChatCompletionRequest, options: CreateOptions = {}) => {
      const call = this.connection.call({ type: 'completion', request }, { signal: options.signal });
      if (!request.stream) return call.done;
      const chunks = streamed<ChatCompletionChunk>(call);
      await Promise.race([chunks.firstItem, call.done]); // a refused request throws here, as the Engine's create() does
      return chunks.items;
    };
    this.chat = Object.assign((options: ChatSessionOptions = {}) => new WorkerChat(this.connection, ++this.chats, options), {
      completions: { create },
    }) as WorkerChatEntry;
  }

  /** As Engine.generate; the generation starts in the worker at once (events wait here until read). */
  generate(prompt: Prompt, options: GenerateOptions = {}): Generation {
    const { signal, decoder: _decoder, beforeStart: _beforeStart, onSettled: _onSettled, ...rest } = options;
    return generation(this.connection.call({ type: 'generate', prompt, options: rest }, { signal }));
  }

  /** The prompt as token ids, as Engine.encode. */
  async encode(prompt: Prompt): Promise<number[]> {
    return (await this.connection.call({ type: 'encode', prompt }).done) as number[];
  }

  /** Frees the model in the worker, then ends the worker. */
  async dispose(): Promise<void> {
    if (this.connection.closed) return;
    try {
      await this.connection.call({ type: 'dispose' }).done;
    } finally {
      this.connection.terminate();
    }
  }
}

/** A conversation held in the worker (Engine.chat's ChatSession there). */
export class WorkerChat {
  private readonly opened: Promise<unknown>;

  constructor(
    private readonly connection: Connection,
    private readonly id: number,
    options: ChatSessionOptions,
  ) {
    this.opened = connection.call({ type: 'chat-open', chat: id, options }).done;
    this.opened.catch(() => {}); // reported by the first send
  }

  /** The next user message; the answer streams as Engine.chat().send's does. */
  send(message: string, options: ChatTurnOptions = {}): Generation {
    const { signal, decoder: _decoder, ...rest } = options;
    return generation(this.connection.call({ type: 'chat-send', chat: this.id, message, options: rest }, { signal }), this.opened);
  }

  /** The conversation so far. */
  async messages(): Promise<ChatMessage[]> {
    await this.opened;
    return (await this.connection.call({ type: 'chat-messages', chat: this.id }).done) as ChatMessage[];
  }

  /** Forgets the conversation but the system prompt. */
  async reset(): Promise<void> {
    await this.opened;
    await this.connection.call({ type: 'chat-reset', chat: this.id }).done;
  }
}

interface Call {
  id: number;
  done: Promise<unknown>;
  /** Called with each item before `done` settles; set by the caller. */
  onItem?: (value: unknown) => void;
}

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** The page's end of the worker: numbered calls, their items and replies, errors rebuilt. */
class Connection {
  private next = 1;
  private readonly calls = new Map<number, { call: Call; resolve: (v: unknown) => void; reject: (e: unknown) => void; onProgress?: WorkerLoadModelOptions['onProgress'] }>();
  closed = false;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener('message', (event) => this.receive(event.data as WorkerReply));
    worker.addEventListener('error', (event) => this.fail(new GpuError(`the engine worker failed: ${event.message || 'its script could not be loaded or threw'}`)));
    worker.addEventListener('messageerror', () => this.fail(new GpuError('the engine worker sent a message that could not be read')));
  }

  call(request: Request, hooks: { signal?: AbortSignal; onProgress?: WorkerLoadModelOptions['onProgress'] } = {}): Call {
    const id = this.next++;
    const call: Call = { id, done: Promise.resolve() };
    call.done = new Promise((resolve, reject) => {
      if (this.closed) return reject(new InputError('engine', 'has been disposed; load the model again'));
      this.calls.set(id, { call, resolve, reject, onProgress: hooks.onProgress });
      this.worker.postMessage({ ...request, id });
    });
    const signal = hooks.signal;
    if (signal) {
      const abort = () => !this.closed && this.worker.postMessage({ type: 'abort', target: id, id: this.next++ });
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
    }
    return call;
  }

  /** Rejects every pending call with `error` and ends the worker. */
  fail(error: Error): void {
    for (const { reject } of this.calls.values()) reject(error);
    this.calls.clear();
    this.terminate();
  }

  terminate(): void {
    this.closed = true;
    this.worker.terminate();
  }

  private receive(reply: WorkerReply): void {
    const pending = this.calls.get(reply.id);
    if (!pending) return;
    if (reply.type === 'progress') pending.onProgress?.(reply.done, reply.total, reply.phase);
    else if (reply.type === 'item') pending.call.onItem?.(reply.value);
    else {
      this.calls.delete(reply.id);
      if (reply.type === 'done') pending.resolve(reply.value);
      else pending.reject(rebuildError(reply.error));
    }
  }
}

/** A call's items as an async iterable (buffered until read), and `firstItem`: resolves when one arrives. */
function streamed<T>(call: Call): { items: AsyncIterable<T>; firstItem: Promise<void> } {
  const queue: T[] = [];
  let finished = false;
  let wake: (() => void) | undefined;
  let markFirst!: () => void;
  const firstItem = new Promise<void>((r) => (markFirst = r));
  call.onItem = (value) => {
    queue.push(value as T);
    markFirst();
    wake?.();
  };
  const ended = call.done.finally(() => {
    finished = true;
    wake?.();
  });
  ended.catch(() => {}); // thrown by the iterator, which awaits call.done
  return {
    firstItem,
    items: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (queue.length > 0) yield queue.shift()!;
          if (finished) {
            await call.done;
            return;
          }
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
    },
  };
}

/** A generate / chat-send call as a Generation; `before` must settle first (a chat's opening). */
function generation(call: Call, before: Promise<unknown> = Promise.resolve()): Generation {
  const { items } = streamed<GenerateEvent>(call);
  const result = before.then(() => call.done) as Promise<GenerateResult>;
  result.catch(() => {}); // reported to whoever reads `result` or iterates
  return {
    result,
    async *[Symbol.asyncIterator]() {
      await before;
      yield* items;
    },
  };
}

const ERRORS: Record<string, { prototype: Error }> = { ConfigError, CheckpointError, GpuError, GpuLimitError, ShaderError, InputError };

/** The worker's error as the same class here (instanceof works), with its name and message. */
function rebuildError(sent: SentError): Error {
  const error = new Error(sent.message);
  const known = ERRORS[sent.name];
  if (known) Object.setPrototypeOf(error, known.prototype);
  error.name = sent.name;
  return error;
}
