// Requests take turns for the engine: at most `slots` run at once (1 when generations run one after another;
// the batch's rows when they step together, src/decode/batch-runner.ts). Requests arriving while every slot
// is taken wait in FIFO order; at most `maxWaiting` of them, beyond which they are refused at once (the
// server answers 429) rather than piling up with ever longer waits.

/** The queue already holds its maximum of waiting requests. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

interface Waiter {
  start(): void;
}

export class RequestQueue {
  private taken = 0;
  private readonly waiting: Waiter[] = [];

  /** `maxWaiting`: requests allowed to wait behind the running ones (0: only those); `slots`: requests running at once. */
  constructor(
    readonly maxWaiting: number,
    readonly slots = 1,
  ) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be an integer >= 0, got ${maxWaiting}`);
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be an integer >= 1, got ${slots}`);
  }

  /** Whether any request is running. */
  get running(): boolean {
    return this.taken > 0;
  }

  /** Requests running now. */
  get runningCount(): number {
    return this.taken;
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
    if (this.taken >= this.slots) {
      if (this.waiting.length >= this.maxWaiting) throw new QueueFullError(`the queue is full (${this.maxWaiting} waiting behind ${this.slots === 1 ? 'the running request' : `${this.slots} running requests`})`);
      await this.wait(signal);
    } else {
      this.taken++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so that a slot never looks free while one is queued.
      const next = this.waiting.shift();
      if (next) next.start();
      else this.taken--;
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
