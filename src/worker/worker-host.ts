// The worker side of the engine in a Web Worker: one Engine per worker, loaded, used and disposed through
// the requests of protocol.ts. The page's proxy is worker-engine.ts; the worker bundle's entry is
// worker-entry.ts. Browser-safe.
import type { ChatSession } from '../chat-session.ts';
import type { Generation } from '../decode/generate.ts';
import { loadModel, type BrowserLoadModelOptions } from '../engine-browser.ts';
import type { Engine } from '../engine.ts';
import { InputError } from '../errors.ts';
import type { WorkerReply, WorkerRequest } from './protocol.ts';

/** The worker's global scope as this needs it (a DedicatedWorkerGlobalScope, or a MessagePort in tests). */
export interface MessageEndpoint {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

export interface ServeOptions {
  /** How a `load` request loads; default the browser's loadModel (tests in Node pass Node's). */
  load?: (from: string | readonly File[], options: BrowserLoadModelOptions) => Promise<Engine>;
}

/** Answers engine requests arriving at `port` until a `dispose`. */
export function serveEngine(port: MessageEndpoint, serve: ServeOptions = {}): void {
  const load = serve.load ?? loadModel;
  let engine: Engine | undefined;
  const chats = new Map<number, ChatSession>();
  const running = new Map<number, AbortController>();
  const reply = (message: WorkerReply) => port.postMessage(message);

  const loaded = (): Engine => {
    if (!engine) throw new InputError('engine', 'no model is loaded in this worker (it failed to load, or was disposed)');
    return engine;
  };
  const chatOf = (id: number): ChatSession => {
    const chat = chats.get(id);
    if (!chat) throw new InputError('chat', `no conversation ${id} in this worker`);
    return chat;
  };
  /** Sends each event of `gen` as an item; the result is the reply. */
  const stream = async (id: number, gen: Generation) => {
    for await (const event of gen) reply({ id, type: 'item', value: event });
    return gen.result;
  };

  async function run(r: WorkerRequest, signal: AbortSignal): Promise<unknown> {
    switch (r.type) {
      case 'load': {
        if (engine) throw new InputError('load', 'this worker already holds a model; a worker loads one');
        const { headers, ...options } = r.options;
        engine = await load(r.from, {
          ...options,
          http: { headers, signal },
          onProgress: (done, total, phase) => reply({ id: r.id, type: 'progress', done, total, phase }),
        });
        return {
          name: engine.name,
          configJson: await engine.folder.folder.readText('config.json'),
          configFile: `${engine.name.replace(/\/$/, '')}/config.json`,
          generationDefaults: { ...engine.generationDefaults },
          hasTokenizer: engine.tokenizer !== null,
        };
      }
      case 'generate':
        return stream(r.id, loaded().generate(r.prompt, { ...r.options, signal }));
      case 'encode':
        return loaded().encode(r.prompt);
      case 'chat-open':
        chats.set(r.chat, loaded().chat(r.options));
        return undefined;
      case 'chat-send':
        return stream(r.id, chatOf(r.chat).send(r.message, { ...r.options, signal }));
      case 'chat-messages':
        return chatOf(r.chat).messages;
      case 'chat-reset':
        chatOf(r.chat).reset();
        return undefined;
      case 'completion': {
        const answer = await loaded().chat.completions.create(r.request, { signal });
        if (!(Symbol.asyncIterator in answer)) return answer;
        for await (const chunk of answer) reply({ id: r.id, type: 'item', value: chunk });
        return undefined;
      }
      case 'dispose':
        chats.clear();
        await engine?.dispose();
        engine = undefined;
        return undefined;
      case 'abort':
        running.get(r.target)?.abort();
        return undefined;
    }
  }

  port.addEventListener('message', (event) => {
    const request = event.data as WorkerRequest;
    const stop = new AbortController();
    running.set(request.id, stop);
    run(request, stop.signal).then(
      (value) => reply({ id: request.id, type: 'done', value }),
      (e: unknown) => reply({ id: request.id, type: 'error', error: { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) } }),
    ).finally(() => running.delete(request.id));
  });
}
