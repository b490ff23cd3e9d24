export const SHADER_SOURCES: Record<string, string> = {};
