// `npm run demo:web`: builds the browser bundles and serves the demo page on 127.0.0.1 with range requests:
//   /          demo/ (index.html)
//   /dist/     dist/ (the library bundle and the demo module)
//   /weights/  weights/ (the embedded weights/tiny-v3-trained and any checkpoint you put there)
// Usage: tsx tools/demo-web.ts [--port N] [--quiet]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBrowser } from './build-browser.ts';
import { startStaticServer } from './static-server.ts';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const port = Number(arg('--port') ?? process.env.PORT ?? 8080);
const quiet = process.argv.includes('--quiet');

await buildBrowser(join(ROOT, 'dist'));
const server = await startStaticServer({
  port,
  mounts: { '/': join(ROOT, 'demo'), '/dist/': join(ROOT, 'dist'), '/weights/': join(ROOT, 'weights') },
  onRequest: quiet ? undefined : (method, url, status) => console.log(`${status} ${method} ${url}`),
});
console.log(`deepseek-webgpu demo: ${server.origin}/`);
console.log('Open it in a browser with WebGPU (Chrome/Edge 113+). Without a GPU driver: chromium --enable-unsafe-webgpu');
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.close().then(() => process.exit(0)));
