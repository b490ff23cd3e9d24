// The blob lock: one writer at a time, a waiter proceeds once the holder is done, a dead holder's lock is taken
// over, and a lock held too long fails naming its file. (resolve.test.ts: two resolves download each file once.)
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../errors.ts';
import { withBlobLock } from './blob-lock.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blob-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('withBlobLock', () => {
  it('runs one holder at a time and leaves no lock file', async () => {
    const blob = join(dir, 'abc');
    let active = 0;
    let most = 0;
    const work = async () => {
      most = Math.max(most, ++active);
      await new Promise((r) => setTimeout(r, 30));
      active--;
    };
    await Promise.all([0, 1, 2].map(() => withBlobLock(blob, work, { pollMs: 5 })));
    expect(most).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('waits for a live holder, takes over a dead one, and gives up after the timeout naming the lock', async () => {
    const blob = join(dir, 'abc');
    await writeFile(`${blob}.lock`, '4242');
    const order: string[] = [];
    const waiting = withBlobLock(blob, async () => void order.push('work'), { pollMs: 5, alive: () => true });
    await new Promise((r) => setTimeout(r, 40));
    order.push('released');
    await rm(`${blob}.lock`);
    await waiting;
    expect(order).toEqual(['released', 'work']);

    await writeFile(`${blob}.lock`, '4242'); // a process killed mid-download
    expect(await withBlobLock(blob, async () => 'taken over', { pollMs: 5, alive: (pid) => pid !== 4242 })).toBe('taken over');

    await writeFile(`${blob}.lock`, '4242');
    const stuck = withBlobLock(blob, async () => 'never', { pollMs: 5, timeoutMs: 30, alive: () => true });
    await expect(stuck).rejects.toThrow(HubError);
    await expect(withBlobLock(blob, async () => 'never', { pollMs: 5, timeoutMs: 30, alive: () => true })).rejects.toThrow(/abc\.lock.*pid 4242/);
  });
});
