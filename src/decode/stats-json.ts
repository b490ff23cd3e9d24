// GenerateStats in the snake_case the JSON outputs use (CLI --json, the browser's usage.extra), where the
// TypeScript API is camelCase. The names are those the JSON has always had.
import type { ExpertCacheFigures, GenerateStats } from './generate.ts';

/** GenerateStats as JSON outputs write them. */
export type GenerateStatsJson = ReturnType<typeof statsJson>;

export function statsJson(s: GenerateStats) {
  return {
    prompt_tokens: s.promptTokens,
    cached_tokens: s.cachedTokens,
    generated_tokens: s.generatedTokens,
    prefill_tokens_per_s: s.prefillTokensPerSecond,
    decode_tokens_per_s: s.decodeTokensPerSecond,
    speculative: s.speculative,
    drafted: s.drafted,
    accepted: s.accepted,
    acceptance_rate: s.acceptanceRate,
    tokens_per_step: s.tokensPerStep,
    ...(s.expertCache && { expert_cache: expertCacheJson(s.expertCache) }),
  };
}

function expertCacheJson(e: ExpertCacheFigures) {
  return {
    hit_rate: e.hitRate,
    bytes_uploaded_per_token: e.bytesUploadedPerToken,
    stall_ms_per_token: e.stallMsPerToken,
    upload_ms_per_token: e.uploadMsPerToken,
    prefill_bytes_uploaded: e.prefillBytesUploaded,
    prefill_stall_ms: e.prefillStallMs,
  };
}
