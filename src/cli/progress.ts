// A one-line progress bar on a terminal (bytes, rate, ETA); silent when stderr is not a TTY or with --quiet.
export interface Progress {
  /** `done` of `total` bytes; with `step`, `done` of `total` steps of that name (no sizes or rates). */
  update(done: number, total: number, step?: string): void;
  finish(): void;
}

export function progressBar(label: string, enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) return { update() {}, finish() {} };
  const start = performance.now();
  let last = 0;
  let drawn = false;
  const draw = (done: number, total: number, step?: string) => {
    if (step) {
      stream.write(`\r${label}: ${step} ${done}/${total}\x1b[K`);
      drawn = true;
      return;
    }
    const seconds = (performance.now() - start) / 1000;
    const rate = done / Math.max(seconds, 1e-3);
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const width = 24;
    const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
    const eta = rate > 0 && total > done ? `${((total - done) / rate).toFixed(0)}s left` : '';
    stream.write(`\r${label} [${bar}] ${mib(done)}/${mib(total)} MiB ${mib(rate)} MiB/s ${eta}\x1b[K`);
    drawn = true;
  };
  return {
    update(done, total, step) {
      const now = performance.now();
      if (now - last < 100 && done < total && !step) return; // at most 10 redraws a second
      last = now;
      draw(done, total, step);
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
