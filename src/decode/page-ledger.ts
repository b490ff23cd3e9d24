// Who may take how many pages of one latent cache: the batch runners' admitted requests (each its worst case)
// and the engine's own sequence (what generate(), logits() or a chat turn may fill, between two batch steps).
// Nothing here allocates: promises are kept so that no sequence ever finds the pool empty at takePage.
// docs/architecture.md "Batched decoding".

export class PageLedger {
  /** Pages promised to batched requests, every runner's together. */
  private batch = 0;
  /** Pages the engine's own sequence holds or may take in the run now holding the model. */
  private own = 0;
  /** Sequential runs waiting for pages: batched requests wait behind them, so they cannot be starved. */
  private ownWaiting = 0;
  private wakeups: (() => void)[] = [];
  /**
   * Frees the engine sequence's pages when no run holds them (a chat's context left between turns, which the
   * next batch step would make stale anyway); true when it did. Without it such pages stay promised.
   */
  reclaimOwn: (() => boolean) | null = null;

  constructor(readonly pages: number) {}

  /** Pages promised now. */
  get promised(): number {
    return this.batch + this.own;
  }

  /** Promises `n` pages to a batched request when they are free and no sequential run waits; `force` promises them anyway (a request that leaves at once). */
  takeForBatch(n: number, force = false): boolean {
    if (!force && this.ownWaiting > 0) return false;
    if (!force && this.batch + this.own + n > this.pages && !(this.batch + n <= this.pages && this.own > 0 && this.reclaimOwn?.())) return false;
    this.batch += n;
    return true;
  }

  giveFromBatch(n: number): void {
    this.batch -= n;
    if (n > 0) this.wake();
  }

  /**
   * Sets the engine sequence's promise to `n` pages (at most the whole cache: a run whose worst case exceeds it
   * waits for an empty batch, and may still run out alone, as without a batch); false when the growth is not free.
   */
  setOwn(n: number): boolean {
    const pages = Math.min(n, this.pages);
    if (pages > this.own && this.batch + pages > this.pages) return false;
    const shrank = pages < this.own;
    this.own = pages;
    if (shrank) this.wake();
    return true;
  }

  /**
   * Runs `attempt` (which looks under the model's lock and calls setOwn) until it returns something, trying again
   * each time pages are given back; while it waits, batched requests are not admitted ahead of it.
   */
  async untilOwn<T>(attempt: () => Promise<T | null>): Promise<T> {
    let freed = this.whenFreed(); // taken before looking: a give-back while `attempt` runs is not missed
    let result = await attempt();
    if (result !== null) return result;
    this.ownWaiting++;
    try {
      for (;;) {
        await freed;
        freed = this.whenFreed();
        result = await attempt();
        if (result !== null) return result;
      }
    } finally {
      if (--this.ownWaiting === 0) this.wake(); // requests that waited behind it look again
    }
  }

  /** Resolves at the next give-back (a runner's waiting requests then try again). */
  whenFreed(): Promise<void> {
    return new Promise((resolve) => this.wakeups.push(resolve));
  }

  private wake(): void {
    const wakeups = this.wakeups;
    this.wakeups = [];
    for (const w of wakeups) w();
  }
}
