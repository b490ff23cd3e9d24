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
export { generate, type Generation, type GenerateOptions, type GenerateResult, type GenerateEvent, type GenerateStats } from './decode/generate.ts';
export type { CausalLM, SampleRequest } from './decode/causal-lm.ts';
export { DecodeBatch, BatchStream, type BatchRequest, type BatchResult, type BatchFinish, type BatchStepStats } from './decode/batch.ts';
export type { BatchLM, BatchRow, BatchSequence } from './decode/batch-lm.ts';
export type { SamplingOptions } from './decode/sampling.ts';
export { countParameters, type ParameterCount } from './model/parameter-count.ts';
export { quantizeFp8Blocks } from './checkpoint/fp8-quantize.ts';
export { Engine, ModelEngine, type EngineOptions, type EngineParts, type Prompt, type PerplexityInput } from './engine.ts';
export { ChatSession, parseSavedChat, type ChatSessionOptions, type ChatTurn, type ChatTurnOptions, type SavedChat } from './chat-session.ts';
export { perplexity, type PerplexityOptions, type PerplexityResult, type WindowModel } from './eval/perplexity.ts';
export { splitDocuments, documentStream } from './eval/documents.ts';
export type { LoadPhase, ModelLoadOptions } from './model/deepseek-model.ts';
export { httpFolder, openHttpFile, type HttpFolderOptions } from './checkpoint/sources/http-range.ts';
export { fileFolder, type PickedFile } from './checkpoint/sources/browser-file.ts';
export { loadModel, toFolder, type BrowserLoadModelOptions, type ModelLocation } from './engine-browser.ts';
