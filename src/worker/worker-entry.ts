// The entry of the worker bundle (dist/browser/deepseek-webgpu-worker.js, built by tools/build-browser.ts):
// the engine served to the page that started this worker (src/worker/worker-engine.ts talks to it).
import { serveEngine, type MessageEndpoint } from './worker-host.ts';

serveEngine(globalThis as unknown as MessageEndpoint);
