import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.ts';
import { looksLikeRepoId, parseRepoId } from './repo-id.ts';
import { hubSettings } from './settings.ts';

describe('Hugging Face model ids', () => {
  it('owner/name[@revision] is an id; relative, absolute, home and Windows paths, and deeper paths are not', () => {
    for (const id of ['deepseek-ai/DeepSeek-V2-Lite-Chat', 'a/b', 'moonshotai/Kimi-K2-Instruct@main', 'o/n@v1.0', 'o/n@refs/pr/12', 'user_1/model.v2']) {
      expect(looksLikeRepoId(id), id).toBe(true);
    }
    for (const path of ['./a/b', '../a/b', '/a/b', '~/a', 'C:\\models\\x', 'C:/x', 'a/b/c', 'a', 'a/', '/b', '-a/b', 'a/b.', 'a--b/c', 'a/b..c', 'a/b@', '.hidden/x', 'a b/c']) {
      expect(looksLikeRepoId(path), path).toBe(false);
    }
  });

  it('the revision comes from @ or --revision (main by default); both must agree; unsafe ones are refused', () => {
    expect(parseRepoId('o/n')).toEqual({ owner: 'o', name: 'n', revision: 'main' });
    expect(parseRepoId('o/n@v2')).toEqual({ owner: 'o', name: 'n', revision: 'v2' });
    expect(parseRepoId('o/n', 'refs/pr/3').revision).toBe('refs/pr/3');
    expect(parseRepoId('o/n@v2', 'v2').revision).toBe('v2');
    expect(() => parseRepoId('o/n@v2', 'v3')).toThrow(/--revision: 'v3' disagrees with the revision in 'o\/n@v2'/);
    expect(() => parseRepoId('o/n@../../etc')).toThrow(InputError);
    expect(() => parseRepoId('o/n', 'a/../../b')).toThrow(/--revision: revision 'a\/..\/..\/b' is refused/);
    expect(() => parseRepoId('o/n', '/abs')).toThrow(/refused/);
    expect(() => parseRepoId('./o/n')).toThrow(/--model: '.\/o\/n' is neither an existing folder nor a Hugging Face model id/);
  });
});

describe('hub settings from the environment', () => {
  it("follows huggingface_hub's precedence: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub", () => {
    expect(hubSettings({ HF_HUB_CACHE: '/c1', HUGGINGFACE_HUB_CACHE: '/c2', HF_HOME: '/h' }).cacheDir).toBe('/c1');
    expect(hubSettings({ HUGGINGFACE_HUB_CACHE: '/c2', HF_HOME: '/h' }).cacheDir).toBe('/c2');
    expect(hubSettings({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }).cacheDir).toBe('/h/hub');
    expect(hubSettings({ XDG_CACHE_HOME: '/x' }).cacheDir).toBe('/x/huggingface/hub');
    expect(hubSettings({}).cacheDir).toMatch(/\/\.cache\/huggingface\/hub$/);
  });

  it('endpoint, token and offline mode; options override the environment', () => {
    const none = { HF_HOME: '/nonexistent-hf-home' };
    expect(hubSettings(none)).toMatchObject({ endpoint: 'https://huggingface.co', token: undefined, offline: false });
    expect(hubSettings({ ...none, HF_ENDPOINT: 'https://mirror.example/', HF_TOKEN: 'hf_x', HF_HUB_OFFLINE: 'yes' })).toMatchObject({
      endpoint: 'https://mirror.example',
      token: 'hf_x',
      offline: true,
    });
    for (const value of ['1', 'ON', 'true', 'Yes']) expect(hubSettings({ ...none, HF_HUB_OFFLINE: value }).offline).toBe(true);
    for (const value of ['0', '', 'off', 'false']) expect(hubSettings({ ...none, HF_HUB_OFFLINE: value }).offline).toBe(false);
    expect(hubSettings({ ...none, HF_HUB_OFFLINE: '1', HF_TOKEN: 'a' }, { offline: false, token: 'b', cacheDir: undefined })).toMatchObject({ offline: false, token: 'b' });
  });
});
