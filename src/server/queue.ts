// One generation at a time: the engine owns one model and one KV cache, so requests take turns. Requests
// arriving while one runs wait in FIFO order; at most `maxWaiting` of them, beyond which they are refused at
// once (the server answers 429) rather than piling up with ever longer waits.

/** The queue already holds its maximum of waiting requests. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

interface Waiter {
  start(): void;
}

export class RequestQueue {
  private busy = false;
  private readonly waiting: Waiter[] = [];

  /** `maxWaiting`: requests allowed to wait behind the running one (0: only the running one). */
  constructor(readonly maxWaiting: number) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
  }

  get running(): boolean {
    return this.busy;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` once every earlier one has finished. Throws QueueFullError at once when the queue is full,
   * and the signal's reason when it aborts while waiting (the request then gives up its place).
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.busy) {
      if (this.waiting.length >= this.maxWaiting) throw new QueueFullError(`the queue is full (${this.maxWaiting} waiting behind the running request)`);
      await this.wait(signal);
    } else {
      this.busy = true;
    }
    try {
      return await task();
    } finally {
      // Hand the engine straight to the next waiter, so that `busy` never drops while one is queued.
      const next = this.waiting.shift();
      if (next) next.start();
      else this.busy = false;
    }
  }

  private wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
