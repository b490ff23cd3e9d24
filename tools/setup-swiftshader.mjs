#!/usr/bin/env node
// setup-swiftshader: give Dawn (the `webgpu` package) a CPU Vulkan driver on GPU-less Linux x64 machines.
//
// Fills <package root>/.swiftshader/ with three files taken from Debian's chromium-common package:
//   libvk_swiftshader.so     SwiftShader, a Vulkan implementation on the CPU (~5.4 MB; needs only libc/libm/libgcc_s)
//   vk_swiftshader_icd.json  its Vulkan ICD manifest; library_path is relative, so the folder can live anywhere
//   libvulkan.so.1           the Khronos loader, used only when the system has none (src/gpu/node-webgpu.ts)
// src/gpu/node-webgpu.ts points VK_ICD_FILENAMES at the manifest before it creates the WebGPU instance.
//
// Sources, in order: /usr/lib/chromium (chromium-common installed), else `apt-get download` + `dpkg -x` into a
// temp dir that is deleted afterwards (the .deb is ~27-32 MB; we keep ~6 MB). Nothing is installed system-wide.
// Runs as the package's postinstall, so by default it never fails: it prints a warning with the command that
// fixes things and exits 0. `--strict` (used by .ci/run) exits 1 instead. `--force` redoes a complete folder.
// Linux x64 only (chromium-common's files are x86-64 builds); elsewhere it prints nothing and exits 0.

import { spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync,
  readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const TAG = 'setup-swiftshader';
const PKG_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TARGET = join(PKG_ROOT, '.swiftshader');
const SCRIPT = join(PKG_ROOT, 'tools', 'setup-swiftshader.mjs');
const DRIVER = 'libvk_swiftshader.so';
const ICD = 'vk_swiftshader_icd.json';
const LOADER = 'libvulkan.so.1';
const SYSTEM_CHROMIUM = '/usr/lib/chromium';
// Where the dynamic linker finds libvulkan.so.1 on Debian/Ubuntu/Fedora/Arch (ld.so.conf defaults).
const SYSTEM_LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib',
  '/usr/local/lib', '/usr/local/lib/x86_64-linux-gnu',
];

class SetupError extends Error {}

const args = new Set(process.argv.slice(2));
const strict = args.has('--strict');
const force = args.has('--force');

if (process.platform === 'linux' && process.arch === 'x64') {
  try {
    main();
  } catch (err) {
    warn(err);
    process.exitCode = strict ? 1 : 0;
  }
}

function main() {
  const started = performance.now();
  const where = relative(process.cwd(), TARGET) || '.';
  if (!force && isComplete(TARGET)) {
    log(`${where}/ already complete, nothing to do`);
    return;
  }
  mkdirSync(TARGET, { recursive: true });
  removeStaleTemps(TARGET);

  let how;
  if (existsSync(join(SYSTEM_CHROMIUM, DRIVER))) {
    installFrom(SYSTEM_CHROMIUM);
    how = `copied from ${SYSTEM_CHROMIUM}`;
  } else {
    how = installFromDownload();
  }
  if (!isComplete(TARGET)) throw new SetupError(`${TARGET} is still incomplete after the copy`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`SwiftShader Vulkan driver ${how} into ${where}/ (${megabytes(TARGET)} MB) in ${seconds} s`);
}

/** Downloads chromium-common (and libvulkan1 if needed) into a temp dir, extracts, copies, cleans up. */
function installFromDownload() {
  if (!which('apt-get') || !which('dpkg')) {
    throw new SetupError(`${SYSTEM_CHROMIUM}/${DRIVER} is absent and apt-get/dpkg are not available to fetch it`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'deepseek-webgpu-swiftshader-'));
  try {
    const chromium = join(tmp, 'chromium');
    const version = extract(aptDownload('chromium-common', tmp), chromium);
    const extracted = join(chromium, 'usr/lib/chromium');
    if (!existsSync(join(extracted, DRIVER))) throw new SetupError(`chromium-common ${version} has no ${DRIVER}`);
    // chromium-common bundles the loader; Debian's libvulkan1 is the fallback if a future version stops doing so.
    let loader = existsSync(join(extracted, LOADER)) ? join(extracted, LOADER) : findSystemLoader();
    if (!loader) {
      const vulkan = join(tmp, 'libvulkan1');
      extract(aptDownload('libvulkan1', tmp), vulkan);
      loader = join(vulkan, 'usr/lib/x86_64-linux-gnu', LOADER);
    }
    installFrom(extracted, loader);
    return `${version ? `from chromium-common ${version} ` : ''}(apt-get download)`;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copies driver, loader and manifest from `dir` into TARGET; each file lands atomically, the manifest last. */
function installFrom(dir, loader = existsSync(join(dir, LOADER)) ? join(dir, LOADER) : findSystemLoader()) {
  if (!loader || !existsSync(loader)) {
    throw new SetupError(`no ${LOADER} found (neither in ${dir} nor in ${SYSTEM_LIB_DIRS.join(', ')})`);
  }
  atomicCopy(join(dir, DRIVER), join(TARGET, DRIVER));
  atomicCopy(realpathSync(loader), join(TARGET, LOADER));
  // Keep upstream's manifest fields (api_version) but force the relative path the folder relies on.
  let manifest = { file_format_version: '1.0.0', ICD: { library_path: `./${DRIVER}`, api_version: '1.0.5' } };
  if (existsSync(join(dir, ICD))) {
    manifest = JSON.parse(readFileSync(join(dir, ICD), 'utf8'));
    manifest.ICD = { ...manifest.ICD, library_path: `./${DRIVER}` };
  }
  atomicWrite(join(TARGET, ICD), JSON.stringify(manifest) + '\n');
}

/**
 * `apt-get download <pkg>` into `tmp`; returns the .deb path. If that fails (empty or stale lists on a fresh
 * machine): as root, refresh the system lists; as another user, refresh a private copy of the lists in `tmp`
 * and download with it. Neither installs anything.
 */
function aptDownload(pkg, tmp) {
  const dest = join(tmp, `deb-${pkg}`);
  mkdirSync(dest, { recursive: true });
  let result = run('apt-get', ['download', pkg], dest);
  if (!result.ok) {
    let opts = [];
    if (process.getuid?.() !== 0) {
      const lists = join(tmp, 'apt-lists');
      const cache = join(tmp, 'apt-cache');
      mkdirSync(join(lists, 'partial'), { recursive: true });
      mkdirSync(join(cache, 'archives', 'partial'), { recursive: true });
      opts = ['-o', `Dir::State::Lists=${lists}`, '-o', `Dir::Cache=${cache}`];
    }
    const update = run('apt-get', [...opts, 'update'], dest, 300);
    result = run('apt-get', [...opts, 'download', pkg], dest);
    if (!result.ok) {
      // apt-get update exits 0 even when every mirror is unreachable; its "Failed to fetch" lines say why.
      const fetchFailed = update.lines.filter((l) => /^(E:|W: Failed to fetch)/.test(l)).slice(0, 1);
      const why = [result.output, ...fetchFailed.map((l) => `apt-get update: ${l}`)];
      if (!update.ok) why.push(`apt-get update failed: ${update.output}`);
      throw new SetupError(`apt-get download ${pkg} failed: ${why.join(' | ')}`);
    }
  }
  const deb = readdirSync(dest).find((f) => f.endsWith('.deb'));
  if (!deb) throw new SetupError(`apt-get download ${pkg} left no .deb in ${dest}`);
  return join(dest, deb);
}

/** `dpkg -x deb dir`; returns the package version (empty if unknown). */
function extract(deb, dir) {
  const x = run('dpkg', ['-x', deb, dir], undefined);
  if (!x.ok) throw new SetupError(`dpkg -x ${deb} failed: ${x.output}`);
  const v = run('dpkg-deb', ['-f', deb, 'Version'], undefined);
  return v.ok ? v.output.trim() : '';
}

function run(cmd, argv, cwd, timeoutSeconds = 600) {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', timeout: timeoutSeconds * 1000 });
  const lines = r.error ? [String(r.error.message)] : `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n');
  return { ok: !r.error && r.status === 0, output: lines.slice(-3).join(' | '), lines };
}

function which(cmd) {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

function findSystemLoader() {
  for (const d of SYSTEM_LIB_DIRS) if (existsSync(join(d, LOADER))) return join(d, LOADER);
  return undefined;
}

/** All three files present; both libraries look like ELF; the manifest points at ./libvk_swiftshader.so. */
function isComplete(dir) {
  try {
    if (!isElf(join(dir, DRIVER)) || !isElf(join(dir, LOADER))) return false;
    const manifest = JSON.parse(readFileSync(join(dir, ICD), 'utf8'));
    return manifest?.ICD?.library_path === `./${DRIVER}`;
  } catch {
    return false;
  }
}

function isElf(path) {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

// Temp names start with '.' and end with '.tmp' so removeStaleTemps can clear leftovers of an interrupted run.
function tempName(path) {
  return join(dirname(path), `.${path.slice(dirname(path).length + 1)}.${process.pid}.tmp`);
}

function atomicCopy(from, to) {
  const tmp = tempName(to);
  copyFileSync(from, tmp);
  chmodSync(tmp, 0o644);
  renameSync(tmp, to);
}

function atomicWrite(to, text) {
  const tmp = tempName(to);
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, to);
}

function removeStaleTemps(dir) {
  for (const f of readdirSync(dir)) if (f.startsWith('.') && f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
}

function megabytes(dir) {
  const bytes = [DRIVER, ICD, LOADER].reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  return (bytes / 1e6).toFixed(1);
}

function log(line) {
  console.log(`${TAG}: ${line}`);
}

function warn(err) {
  const reason = err instanceof SetupError ? err.message : (err?.stack ?? String(err));
  console.warn(
    [
      `${TAG}: WARNING: could not set up the SwiftShader WebGPU fallback: ${reason}`,
      `  Without it, deepseek-webgpu needs a real GPU with a Vulkan driver. To fix it, run:`,
      `    sudo apt-get install chromium-common libvulkan1 && node ${SCRIPT}`,
      `  (or \`npm rebuild deepseek-webgpu\` after the apt-get install).`,
    ].join('\n'),
  );
}
