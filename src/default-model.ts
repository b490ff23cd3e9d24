// Where the embedded default model lies, in a module of its own so that the CLI can name it (--help, info)
// without loading the engine. This file sits one folder below the package root both as src/default-model.ts
// (a clone, tsx) and as dist/default-model.js (the published package), so the same path works from either.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The embedded default model: a small DeepSeek-V3-architecture model trained on public-domain English. */
export const DEFAULT_MODEL_DIR = join(dirname(dirname(fileURLToPath(import.meta.url))), 'weights', 'tiny-v3-trained');
