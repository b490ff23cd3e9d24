// The engine in real headless Chromium (Debian's /usr/bin/chromium, WebGPU on SwiftShader through
// --enable-unsafe-webgpu), driven by playwright-core, over tools/static-server.ts on 127.0.0.1:
//   (a) kernels in the page against the CPU references;
//   (b) logits of kernels-test/fixtures/tiny-v3 loaded with HTTP range requests, against golden.safetensors;
//       the embedded model with its routed experts offloaded (gpuMemory) gives the unbudgeted text;
//   (c) the demo page generating end to end, from the URL and from a picked folder; screenshot in
//       test-results/demo.png;
//   (d) the README's browser snippet ("Three ways in"), as written;
//   (e) the demo in a Chromium without WebGPU (no --enable-unsafe-webgpu: no adapter) says so;
//   (f) a reload reads the checkpoint from the Cache API; (g) the engine in a Web Worker.
// Without Chromium the suite is skipped with the command that installs it, except under CI, where it fails.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser, libraryAtRunTime, LIBRARY_BUNDLE, refuseNodeOnly } from '../tools/build-browser.ts';
import { startStaticServer, type StaticServer } from '../tools/static-server.ts';
import type { PageTests } from './page/page-tests.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const INSTALL = 'apt-get install -y --no-install-recommends chromium';
const haveChromium = existsSync(CHROMIUM);
const ci = Boolean(process.env.CI);
if (!haveChromium && !ci) {
  console.warn(`browser tests skipped: ${CHROMIUM} is missing. Install Debian's Chromium: sudo ${INSTALL} (or set CHROMIUM_PATH)`);
}

// Network off (the machine has none; Chromium would keep retrying), WebGPU on the CPU adapter. Playwright adds
// --headless and --no-sandbox; the profile (--user-data-dir) is a fresh temporary folder per run.
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// Same bounds as the Node suites: f32 kernels 1e-5 (kernels-test/small-kernels.test.ts, matmul.test.ts);
// logits per row 1e-4 with equal argmax (kernels-test/model.test.ts).
const KERNEL_TOL = 1e-5;
const ROW_TOL = 1e-4;

const RESULTS = 'test-results';
const TEST_BUILD = join(RESULTS, 'browser-build');
const README_PAGE = join(RESULTS, 'readme');

/** The html code block of the README's "Three ways in" section. */
function readmeBrowserSnippet(): string {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('## Three ways in');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const html = /```html\n([\s\S]*?)```/.exec(section);
  if (start < 0 || !html) throw new Error('README.md: no html snippet in the "Three ways in" section');
  return html[1];
}

it.runIf(ci)('chromium is installed (CI)', () => {
  expect(haveChromium, `${CHROMIUM} is missing: run \`${INSTALL}\` as root (.ci/run does), or set CHROMIUM_PATH`).toBe(true);
});

describe.skipIf(!haveChromium)('in headless Chromium', () => {
  let server: StaticServer;
  let browser: BrowserContext;
  let profile: string;
  const requests: { method: string; url: string; status: number }[] = [];
  const pageLog: string[] = [];

  beforeAll(async () => {
    await buildBrowser(); // dist/browser + dist/demo, as npm run build writes them
    mkdirSync(README_PAGE, { recursive: true });
    writeFileSync(join(README_PAGE, 'hello.html'), readmeBrowserSnippet());
    await build({
      entryPoints: ['browser-test/page/page-tests.ts'],
      outfile: join(TEST_BUILD, 'page-tests.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      logLevel: 'silent',
      plugins: [refuseNodeOnly, libraryAtRunTime(`/dist/${LIBRARY_BUNDLE}`)],
    });
    server = await startStaticServer({
      mounts: {
        '/': 'demo',
        '/dist/': 'dist',
        '/weights/': 'weights',
        '/fixtures/': 'kernels-test/fixtures',
        '/test/': 'browser-test/page',
        '/test-build/': TEST_BUILD,
        '/readme/': README_PAGE,
      },
      onRequest: (method, url, status) => requests.push({ method, url, status }),
    });
    profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('console', (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.stack ?? e.message}`));
    await page.goto(`${server.origin}${path}`);
    return page;
  }

  /** The page's console so far, for failure messages. */
  const log = () => `page console:\n${pageLog.slice(-20).join('\n') || '(empty)'}`;

  async function testPage(): Promise<Page> {
    const page = await open('/test/');
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
    return page;
  }

  it('(a) kernels: rmsnorm and FP8 / F32 matmul match the CPU reference (relL2 <= 1e-5)', async () => {
    const page = await testPage();
    const results = await page.evaluate(() => (window as unknown as { pageTests: PageTests }).pageTests.kernels());
    await page.close();
    expect(results.length, log()).toBe(8);
    for (const r of results) expect(r.relL2, `${r.name}\n${log()}`).toBeLessThanOrEqual(KERNEL_TOL);
  });

  it('(b) tiny-v3 loaded over HTTP range requests reproduces the golden logits', async () => {
    const page = await testPage();
    requests.length = 0;
    const seqs = await page.evaluate(() => (window as unknown as { pageTests: PageTests }).pageTests.goldenLogits('/fixtures/tiny-v3/'));
    await page.close();
    // golden.json: four sequences, the longest 70 tokens (past the 16-token prefill chunks).
    expect(seqs.map((s) => s.tokens), log()).toEqual([1, 5, 17, 70]);
    for (const { seq, rows } of seqs) {
      rows.forEach((r, t) => {
        expect(r.relL2, `seq${seq} row ${t}`).toBeLessThanOrEqual(ROW_TOL);
        expect(r.argmax, `seq${seq} row ${t} argmax`).toBe(r.goldenArgmax);
      });
    }
    // Every shard byte came through range requests: 206 answers only, never a whole shard, and few of them (the
    // tensors of a shard coalesced into one range). Per shard: the open (bytes=0-0), the header's length and
    // text, one range of tensors; golden.safetensors adds its own. (The loader also sends one HEAD per shard
    // first: every shard the index lists must exist before any is read.)
    const shardReads = requests.filter((r) => r.method === 'GET' && /\/fixtures\/tiny-v3\/model-.*\.safetensors$/.test(r.url));
    expect(shardReads.length).toBe(3 * 4);
    expect(shardReads.filter((r) => r.status !== 206)).toEqual([]);
  });

  it('(b) the embedded model under a GPU budget smaller than its experts generates the unbudgeted text', async () => {
    const page = await testPage();
    // 21 MiB: the resident part (17.5 MiB, more with the paged cache's tables) and about half of the 16
    // experts per MoE layer (the whole model is 24.3 MiB); the plan's exact count is memory-plan.test's.
    const r = await page.evaluate(() => (window as unknown as { pageTests: PageTests }).pageTests.offloadedText('/weights/tiny-v3-trained/', 'And it came to pass', '21MiB'));
    await page.close();
    expect(r.slots, log()).toBeGreaterThanOrEqual(4); // top-k: one token's experts
    expect(r.slots!).toBeLessThan(r.experts);
    expect(r.uploaded).toBeGreaterThan(0);
    expect(r.whole.length).toBeGreaterThan(20);
    expect(r.offloaded).toBe(r.whole);
  });

  it('(b) loadModel uses a tune record kept in IndexedDB for this adapter, not one for another driver', async () => {
    const page = await testPage();
    const loads = await page.evaluate(() => (window as unknown as { pageTests: PageTests }).pageTests.tunedLoad('/fixtures/tiny-v3/'));
    await page.close();
    expect(loads, log()).toEqual([
      { name: 'cpu', wg: 256 },
      { name: 'cpu (tuned)', wg: 64 },
    ]);
  });

  it('(b) a folder that is not there: loadModel throws a CheckpointError naming the URL', async () => {
    const page = await testPage();
    const err = await page.evaluate(() => (window as unknown as { pageTests: PageTests }).pageTests.loadError('/fixtures/no-such-model/'));
    await page.close();
    expect(err?.name).toBe('CheckpointError');
    expect(err?.message).toBe(`${server.origin}/fixtures/no-such-model/: no config.json in this folder`);
  });

  it('(c) the demo page: model by URL, greedy stream with stats, the same from a picked folder, then chat', async () => {
    const page = await open('/');
    const settled = (states: string[]) => page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ''), states, { timeout: 60_000 });
    await settled(['ready', 'error', 'no-webgpu']);
    expect(await page.getAttribute('body', 'data-state'), log()).toBe('ready');
    expect(await page.textContent('#adapter')).toMatch(/swiftshader/);
    expect(await page.textContent('#model-info')).toMatch(/weights\/tiny-v3-trained\/: DeepseekV3ForCausalLM .* MTP head, FP8 weights/);

    expect(await page.textContent('#sampling-defaults')).toBe("the model's defaults: temperature 0.6, top-p 0.95 (generation_config.json); empty fields use them");
    const generate = async () => {
      await page.fill('#max-new-tokens', '24');
      await page.fill('#temperature', '0'); // greedy, over the model's own sampling settings
      await page.click('#generate');
      await settled(['done', 'error']);
      expect(await page.getAttribute('body', 'data-state'), `${await page.textContent('#stats')}\n${log()}`).toBe('done');
      return { output: (await page.textContent('#output')) ?? '', stats: (await page.textContent('#stats')) ?? '' };
    };
    const byUrl = await generate();
    expect(byUrl.output).toMatch(/^In the beginning [a-z]+[a-z ,.;:']+/);
    expect(byUrl.stats).toMatch(/^greedy · prefill \d+ tokens/);
    expect(byUrl.stats).toMatch(/decode 24 tokens, [\d.]+ tok\/s · MTP acceptance [\d.]+% \(\d+\/\d+\), [\d.]+ tokens\/step · length/);
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, 'demo.png'), fullPage: true });

    // <input type=file webkitdirectory>: the same model read with File.slice(); greedy, so the same text.
    await page.setInputFiles('#model-files', 'weights/tiny-v3-trained');
    await settled(['ready', 'error']);
    expect(await page.textContent('#model-info'), log()).toMatch(/^tiny-v3-trained: DeepseekV3ForCausalLM/);
    const byFiles = await generate();
    expect(byFiles.output).toBe(byUrl.output);

    // The chat toggle: the prompt goes through the checkpoint's chat template (@huggingface/jinja in the page),
    // and the conversation is kept: the second turn is shown after the first, and prefills only what is new.
    await page.check('#chat');
    const chat = await generate();
    expect(chat.output).toMatch(/^<｜begin▁of▁sentence｜><｜User｜>In the beginning<｜Assistant｜>\s*[A-Za-z]/);
    await page.fill('#prompt', 'And God said');
    const second = await generate();
    expect(second.output.startsWith(chat.output)).toBe(true);
    expect(second.output.slice(chat.output.length)).toMatch(/<｜User｜>And God said<｜Assistant｜>\s*[A-Za-z]/);
    expect(second.stats).toMatch(/^greedy · prefill \d+ tokens/);
    await page.click('#new-chat');
    expect(await page.textContent('#output')).toBe('');

    // A load that fails leaves the model before it in use.
    await page.fill('#model-url', '/weights/no-such-model/');
    await page.click('#load');
    await settled(['ready', 'error']);
    expect(await page.textContent('#load-status')).toMatch(/CheckpointError: .*no-such-model\/: no config\.json in this folder \(still using tiny-v3-trained\)/);
    await page.uncheck('#chat');
    await page.fill('#prompt', 'In the beginning');
    expect((await generate()).output).toBe(byFiles.output);
    await page.close();
  });

  it('(d) the README browser snippet runs as written', async () => {
    const page = await open('/readme/hello.html');
    await page.waitForFunction(() => /tok\/s|Error/.test(document.getElementById('out')?.textContent ?? ''), null, { timeout: 60_000 });
    const text = (await page.textContent('#out')) ?? '';
    await page.close();
    // Sampled (the model's generation_config.json) with a random seed: only loosely English.
    expect(text, log()).toMatch(/^In the beginning[\s\S]*[a-z]{2}[\s\S]*\n[\d.]+ tok\/s, MTP acceptance \d+%$/);
  });

  it('(f) a reload reads the checkpoint ranges from the Cache API; cache: false and a cleared cache download again', async () => {
    const page = await testPage();
    const load = async (options: { cache?: boolean; clear?: boolean; generate?: boolean }) => {
      requests.length = 0;
      const run = await page.evaluate(([base, o]) => (window as unknown as { pageTests: PageTests }).pageTests.loadOnce(base, o), ['/weights/tiny-v3-trained/', options] as const);
      const shards = requests.filter((r) => r.method === 'GET' && /\/weights\/tiny-v3-trained\/model-.*\.safetensors$/.test(r.url));
      return { ...run, shardRequests: shards.length };
    };
    const cold = await load({ clear: true, generate: true });
    const warm = await load({ generate: true });
    const uncached = await load({ cache: false });
    const cleared = await load({ clear: true });
    await page.close();
    // Two shards: cold, the open + header length + header + one range each; warm, only the open (its ETag).
    expect(cold.shardRequests, log()).toBe(2 * 4);
    expect(warm.shardRequests).toBe(2);
    expect(uncached.shardRequests).toBe(2 * 4);
    expect(cleared.shardRequests).toBe(2 * 4);
    expect(warm.text).toBe(cold.text); // the same weights from the cache
    expect(cold.text).toMatch(/^ [a-z]/);
    for (const run of [cold, warm, uncached, cleared]) expect(run.phases).toEqual(['download', 'upload']);
    console.log(`tiny-v3-trained load without warm-up: cold ${cold.seconds.toFixed(2)} s, from the cache ${warm.seconds.toFixed(2)} s, cache: false ${uncached.seconds.toFixed(2)} s`);
  });

  it('(g) the engine in a Web Worker: greedy text as on the page, completions streamed, errors keep their class', async () => {
    const page = await testPage();
    const [here, worker] = await page.evaluate(async (base) => {
      const t = (window as unknown as { pageTests: PageTests }).pageTests;
      return [await t.loadOnce(base, { generate: true }), await t.inWorker(base)] as const;
    }, '/weights/tiny-v3-trained/');
    await page.close();
    expect(worker.text, log()).toBe(here.text);
    expect(worker.phases).toEqual(['download', 'upload', 'compile']);
    expect(worker.chunks.join('').length).toBeGreaterThan(0);
    expect(worker.finish).toBe('length');
    expect(worker.error).toMatch(/^InputError InputError: prompt: token id -1/);
  });

  it('(e) without a WebGPU adapter the demo says so and loads nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
    const noGpu = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') });
    try {
      const page = await noGpu.newPage();
      await page.goto(`${server.origin}/`);
      await page.waitForFunction(() => document.body.dataset.state !== 'starting', null, { timeout: 30_000 });
      expect(await page.getAttribute('body', 'data-state')).toBe('no-webgpu');
      expect(await page.textContent('#adapter')).toMatch(/GpuError: demo: no WebGPU adapter found\. Use a browser with WebGPU enabled/);
      expect(await page.isDisabled('#load')).toBe(true);
    } finally {
      await noGpu.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
