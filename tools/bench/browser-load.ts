// `npm run bench -- browser-load`: how long a page takes to load the embedded model (weights/tiny-v3-trained)
// in headless Chromium (WebGPU on SwiftShader) over tools/static-server.ts, and how many requests it sends:
// a cold load, then reloads in the same browser profile (the Cache API keeps the checkpoint's ranges), then
// a reload with `cache: false`. `--dist DIR` measures another build's dist/ (e.g. an older commit's).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { buildBrowser } from '../build-browser.ts';
import { startStaticServer } from '../static-server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The page: loadModel with the options in ?options=, timing each progress phase; the result in window.benchResult. */
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
const { loadModel } = await import('/dist/browser/deepseek-webgpu.js');
const options = JSON.parse(new URLSearchParams(location.search).get('options') ?? '{}');
const phases = {};
const t0 = performance.now();
try {
  const engine = await loadModel('/weights/tiny-v3-trained/', { ...options, onProgress: (done, total, phase) => {
    const ms = Math.round(performance.now() - t0);
    (phases[phase] ??= { first: ms }).last = ms;
  } });
  const seconds = (performance.now() - t0) / 1000;
  await engine.dispose();
  window.benchResult = { seconds, phases };
} catch (e) {
  window.benchResult = { error: String(e?.stack ?? e) };
}
</script>`;

export interface BrowserLoadRecord {
  run: string;
  seconds: number;
  requests: number;
  rangeRequests: number;
  phases: Record<string, { first: number; last: number }>;
}

export async function runBrowserLoadBench(log: (line: string) => void, opts: { dist?: string; reloads: number }): Promise<BrowserLoadRecord[]> {
  if (!existsSync(CHROMIUM)) throw new Error(`browser-load: ${CHROMIUM} is missing (apt-get install chromium, or set CHROMIUM_PATH)`);
  const dist = opts.dist ? resolve(opts.dist) : 'dist';
  if (!opts.dist) await buildBrowser();
  const page = await mkdtemp(join(tmpdir(), 'browser-load-page-'));
  await mkdir(page, { recursive: true });
  await writeFile(join(page, 'index.html'), PAGE);
  const requests: { method: string; url: string; status: number }[] = [];
  const server = await startStaticServer({
    mounts: { '/': page, '/dist/': dist, '/weights/': 'weights' },
    onRequest: (method, url, status) => requests.push({ method, url, status }),
  });
  const profile = await mkdtemp(join(tmpdir(), 'browser-load-profile-'));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS });
  const records: BrowserLoadRecord[] = [];
  try {
    const runs: [string, object][] = [['cold', {}], ...Array.from({ length: opts.reloads }, (_, i): [string, object] => [`reload ${i + 1}`, {}]), ['reload, cache: false', { cache: false }]];
    for (const [run, options] of runs) {
      requests.length = 0;
      const tab = await browser.newPage();
      await tab.goto(`${server.origin}/?options=${encodeURIComponent(JSON.stringify(options))}`);
      await tab.waitForFunction(() => (window as { benchResult?: unknown }).benchResult !== undefined, null, { timeout: 300_000 });
      const result = (await tab.evaluate(() => (window as unknown as { benchResult: unknown }).benchResult)) as { seconds: number; phases: BrowserLoadRecord['phases']; error?: string };
      await tab.close();
      if (result.error) throw new Error(`browser-load (${run}): ${result.error}`);
      const weights = requests.filter((r) => r.url.startsWith('/weights/'));
      const record = { run, seconds: result.seconds, requests: weights.length, rangeRequests: weights.filter((r) => r.status === 206).length, phases: result.phases };
      records.push(record);
      const phases = Object.entries(record.phases).map(([p, t]) => `${p} ${(t.first / 1000).toFixed(2)}-${(t.last / 1000).toFixed(2)} s`).join(', ');
      log(`${run.padEnd(22)} ${record.seconds.toFixed(2).padStart(6)} s  ${String(record.requests).padStart(4)} requests to /weights/ (${record.rangeRequests} range)  ${phases}`);
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(profile, { recursive: true, force: true });
    await rm(page, { recursive: true, force: true });
  }
  return records;
}
