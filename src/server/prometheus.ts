// Counters, gauges and histograms rendered in Prometheus' text exposition format 0.0.4: `# HELP` and
// `# TYPE` once per metric, then one sample per label set. Only what /metrics needs: no summaries, no
// timestamps; label values are escaped as the format requires.

export type Labels = Readonly<Record<string, string>>;

interface Family {
  render(): string[];
}

export class Registry {
  private readonly families: { name: string; help: string; type: string; family: Family }[] = [];

  counter(name: string, help: string): Counter {
    return this.add(name, help, 'counter', new Counter(name));
  }

  /** A counter whose running total is kept elsewhere and read at each scrape. */
  counterReading(name: string, help: string, read: () => number): void {
    this.add(name, help, 'counter', { render: () => [`${name} ${formatNumber(read())}`] });
  }

  gauge(name: string, help: string, read: () => number): void {
    this.add(name, help, 'gauge', { render: () => [`${name} ${formatNumber(read())}`] });
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(name, help, 'histogram', new Histogram(name, buckets));
  }

  /** The whole exposition, ending with a newline as the format requires. */
  render(): string {
    const lines: string[] = [];
    for (const f of this.families) lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...f.family.render());
    return `${lines.join('\n')}\n`;
  }

  private add<F extends Family>(name: string, help: string, type: string, family: F): F {
    this.families.push({ name, help, type, family });
    return family;
  }
}

export class Counter implements Family {
  private readonly values = new Map<string, number>();

  constructor(private readonly name: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  render(): string[] {
    // A counter with no labels exists from the start (0), so rate() sees its first increase.
    if (this.values.size === 0) return [`${this.name} 0`];
    return [...this.values].map(([labels, v]) => `${this.name}${labels} ${formatNumber(v)}`);
  }
}

export class Histogram implements Family {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(
    private readonly name: string,
    private readonly buckets: readonly number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((le, i) => {
      if (value <= le) s.counts[i]++;
    });
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const lines: string[] = [];
    for (const [key, s] of this.series) {
      const inner = key.slice(1, -1); // the labels without braces, to add `le` to
      const withLe = (le: string) => `{${inner ? `${inner},` : ''}le="${le}"}`;
      this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket${withLe(formatNumber(le))} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${withLe('+Inf')} ${s.count}`, `${this.name}_sum${key} ${formatNumber(s.sum)}`, `${this.name}_count${key} ${s.count}`);
    }
    return lines;
  }
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}
