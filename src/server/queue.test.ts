import { describe, expect, it } from 'vitest';
import { QueueFullError, RequestQueue } from './queue.ts';

/** A task that finishes when `release()` is called, recording when it started. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return { task: async () => (log.push(name), await done, name), release };
}

describe('RequestQueue', () => {
  it('runs one task at a time, in arrival order', async () => {
    const q = new RequestQueue(2);
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((n) => gate(log, n));
    const runs = [q.run(a.task), q.run(b.task), q.run(c.task)];
    await Promise.resolve();
    expect(log).toEqual(['a']);
    expect(q.running).toBe(true);
    expect(q.waitingCount).toBe(2);
    c.release();
    b.release();
    a.release();
    expect(await Promise.all(runs)).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(q.running).toBe(false);
  });

  it('refuses at once beyond maxWaiting, and takes requests again once there is room', async () => {
    const q = new RequestQueue(1);
    const log: string[] = [];
    const [a, b] = ['a', 'b'].map((n) => gate(log, n));
    const ra = q.run(a.task);
    const rb = q.run(b.task);
    await expect(q.run(async () => 'c')).rejects.toBeInstanceOf(QueueFullError);
    a.release();
    b.release();
    await Promise.all([ra, rb]);
    expect(await q.run(async () => 'd')).toBe('d');
  });

  it('a waiting request whose signal aborts leaves the queue; a failing task does not block the next', async () => {
    const q = new RequestQueue(2);
    const log: string[] = [];
    const a = gate(log, 'a');
    const ra = q.run(a.task);
    const controller = new AbortController();
    const rb = q.run(async () => 'b', controller.signal);
    const rc = q.run(async () => {
      throw new Error('boom');
    });
    controller.abort(new Error('client left'));
    await expect(rb).rejects.toThrow('client left');
    expect(q.waitingCount).toBe(1);
    a.release();
    await ra;
    await expect(rc).rejects.toThrow('boom');
    expect(await q.run(async () => 'd')).toBe('d');
    expect(q.running).toBe(false);
  });

  it('with 3 slots, three requests run at once, the fourth waits for a slot and the sixth is refused', async () => {
    const q = new RequestQueue(2, 3);
    const log: string[] = [];
    const gates = ['a', 'b', 'c', 'd', 'e'].map((name) => gate(log, name));
    const runs = gates.map((g) => q.run(g.task));
    await expect(q.run(async () => 'f')).rejects.toThrow(/2 waiting behind 3 running requests/);
    await new Promise((r) => setImmediate(r));
    expect(q.runningCount).toBe(3);
    expect(q.waitingCount).toBe(2);
    gates[1].release();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(q.runningCount).toBe(3);
    expect(q.waitingCount).toBe(1);
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    for (const g of gates) g.release();
    await Promise.all(runs);
    expect(q.runningCount).toBe(0);
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});
