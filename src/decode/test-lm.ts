// Test support (imported by *.test.ts only): a base for the CausalLM stand-ins of the decode tests, a
// position counter and a vocabulary, with what the decode loop never calls on them left out. Subclasses
// choose the tokens (append).
import type { ModelConfig } from '../config/model-config.ts';
import type { CausalLM, SampleRequest } from './causal-lm.ts';

export abstract class TestLM implements CausalLM {
  length = 0;
  readonly config: ModelConfig;

  constructor(
    vocabSize: number,
    readonly maxLength: number,
  ) {
    this.config = { vocabSize, eosTokenIds: [1] } as unknown as ModelConfig;
  }

  abstract append(tokens: readonly number[], sample: SampleRequest | null): Promise<number | null>;

  async appendLogits(_tokens: readonly number[]): Promise<Float32Array> {
    throw new Error('not used by these tests');
  }

  truncate(length: number): void {
    this.length = length;
  }

  async idle(): Promise<void> {}

  dispose(): void {}
}
