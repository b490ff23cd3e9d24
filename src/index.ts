// deepseek-webgpu, browser-safe public API (no Node imports). Node users import src/node.ts, which adds
// file-system checkpoints and the Dawn / SwiftShader device bootstrap.
// The API names WebGPU types (GPUDevice, GPUBuffer...), which TypeScript's DOM lib does not declare: the
// emitted index.d.ts keeps this reference (preserve) so that a consumer's compiler finds them in
// @webgpu/types, a dependency for that reason. Those types are written against the DOM lib, as the `webgpu`
// package's are: a consumer's tsconfig needs "DOM" in "lib" (the default when "lib" is not set).
/// <reference types="@webgpu/types" preserve="true" />
export * from './errors.ts';
export { parseModelConfig, type ModelConfig } from './config/model-config.ts';
export {
  describeSampling,
  loadGenerationDefaults,
  parseGenerationConfig,
  samplingInUse,
  type GenerationDefaults,
  type SamplingInUse,
} from './config/generation-config.ts';
export { openCheckpoint, Checkpoint } from './checkpoint/checkpoint.ts';
export type { ByteSource, FolderSource } from './checkpoint/byte-source.ts';
export type { TensorInfo } from './checkpoint/safetensors.ts';
export type { DType } from './checkpoint/dtypes.ts';
export { openModelFolder, type ModelFolder } from './checkpoint/model-folder.ts';
export { encodeSafetensors, type OutputTensor } from './checkpoint/safetensors-writer.ts';
export { ReferenceModel, type ReferenceState, type ForwardResult } from './reference/model.ts';
export { createGpu, type Gpu, type GpuOptions } from './gpu/device.ts';
export { TextTokenizer } from './tokenizer/tokenizer.ts';
export { ChatTemplate, encodeChat, type ChatMessage } from './tokenizer/chat-template.ts';
export { ThinkSplitter, splitReasoning } from './tokenizer/think.ts';
export { loadTokenizerFrom } from './tokenizer/load.ts';
export { generate, type Generation, type GenerateOptions, type GenerateResult, type GenerateEvent, type GenerateStats, type ExpertCacheFigures } from './decode/generate.ts';
export type { CausalLM, ExpertCacheStats, SampleRequest } from './decode/causal-lm.ts';
export { DecodeBatch, BatchStream, type BatchRequest, type BatchResult, type BatchFinish, type BatchStepStats } from './decode/batch.ts';
export type { BatchLM, BatchRow, BatchSequence } from './decode/batch-lm.ts';
export type { SamplingOptions } from './decode/sampling.ts';
export { generateSamples, sampleSeeds, type Sample, type SampleSet, type SamplesOptions } from './decode/samples.ts';
export { extractAnswer, type AnswerOptions } from './decode/answers.ts';
export { majorityVote, voteShare, type VoteCount, type VoteResult } from './decode/vote.ts';
export type { ThinkingMarkers } from './decode/reasoning-budget.ts';
export { countParameters, type ParameterCount } from './model/parameter-count.ts';
export { quantizeFp8Blocks } from './checkpoint/fp8-quantize.ts';
export { Engine, ModelEngine, type ChatEntry, type EngineOptions, type EngineParts, type Prompt, type PerplexityInput } from './engine.ts';
export {
  ChatCompletions,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionMessage,
  type ChatCompletionRequest,
  type ChatCompletionUsage,
  type ChatFinishReason,
  type CreateOptions,
} from './chat-completions.ts';
export { ChatSession, parseSavedChat, type ChatSessionOptions, type ChatTurn, type ChatTurnOptions, type SavedChat } from './chat-session.ts';
export { perplexity, type PerplexityOptions, type PerplexityResult, type WindowModel } from './eval/perplexity.ts';
export { splitDocuments, documentStream } from './eval/documents.ts';
export type { LoadPhase, ModelLoadOptions } from './model/deepseek-model.ts';
export { adapterProfile } from './model/deepseek-model.ts';
export { cpuProfile, genericGpuProfile, knob, namedProfile, profileFor, withKnobs, type LaunchProfile, type LaunchKnobs } from './gpu/launch-profile.ts';
export { adapterIdentity, adapterKey, tunedProfile, type AdapterIdentity, type TuneRecord, type TuneRow } from './tune/tune-record.ts';
export { idbTunedProfile, writeTuneRecordIdb } from './tune/tune-cache-idb.ts';
export { httpFolder, openHttpFile, type HttpFolderOptions } from './checkpoint/sources/http-range.ts';
export { clearModelCache, MODEL_CACHE_NAME, RangeCache, type CacheLike } from './checkpoint/sources/range-cache.ts';
export { fileFolder, type PickedFile } from './checkpoint/sources/browser-file.ts';
export { loadModel, toFolder, type BrowserLoadModelOptions, type ModelLocation } from './engine-browser.ts';
export { loadModelInWorker, WorkerChat, WorkerEngine, type WorkerChatEntry, type WorkerLike, type WorkerLoadModelOptions } from './worker/worker-engine.ts';
export { serveEngine, type MessageEndpoint, type ServeOptions } from './worker/worker-host.ts';
