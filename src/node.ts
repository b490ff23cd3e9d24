// deepseek-webgpu for Node: the browser-safe API plus checkpoint folders on disk, models by Hugging Face id
// through the hub cache, and the WebGPU device bootstrap (Dawn, with the bundled SwiftShader driver on machines
// without a GPU).
export * from './index.ts';
export { nodeFolder, openCheckpointDir, openNodeFile } from './checkpoint/sources/node-file.ts';
export { createNodeGpu, getNodeGpu, planNodeGpu, type NodeGpuOptions } from './gpu/node-webgpu.ts';
export { loadTokenizer } from './tokenizer/load-node.ts';
export { loadModel, DEFAULT_MODEL_DIR, type LoadModelOptions } from './engine-node.ts';
export { resolveModel, remoteModelFolder, type ResolveModelOptions, type ResolvedModel } from './hub/resolve.ts';
export { hubSettings, type HubSettings } from './hub/settings.ts';
export { cachedTunedProfile, readTuneRecord, tuneCacheDir, writeTuneRecord } from './tune/tune-cache-node.ts';
export { startServer, type OpenAiServer, type ServerOptions } from './server/server.ts';
