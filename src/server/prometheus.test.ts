import { describe, expect, it } from 'vitest';
import { Registry } from './prometheus.ts';

describe('Registry', () => {
  it('renders HELP and TYPE once per family, escaped labels, cumulative buckets with +Inf, sum and count', () => {
    const r = new Registry();
    const c = r.counter('x_total', 'Things.\nCounted.');
    r.gauge('g', 'A gauge.', () => 2.5);
    const h = r.histogram('h_seconds', 'Times.', [0.1, 1]);
    c.inc({ path: 'a"b\\c\nd' });
    c.inc({ path: 'a"b\\c\nd' }, 2);
    h.observe(0.05, { e: 'chat' });
    h.observe(0.5, { e: 'chat' });
    h.observe(7, { e: 'chat' });
    expect(r.render()).toBe(
      [
        '# HELP x_total Things.\\nCounted.',
        '# TYPE x_total counter',
        'x_total{path="a\\"b\\\\c\\nd"} 3',
        '# HELP g A gauge.',
        '# TYPE g gauge',
        'g 2.5',
        '# HELP h_seconds Times.',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{e="chat",le="0.1"} 1',
        'h_seconds_bucket{e="chat",le="1"} 2',
        'h_seconds_bucket{e="chat",le="+Inf"} 3',
        'h_seconds_sum{e="chat"} 7.55',
        'h_seconds_count{e="chat"} 3',
        '',
      ].join('\n'),
    );
  });

  it('a counter nothing has counted yet is 0; a histogram without observations has no samples', () => {
    const r = new Registry();
    r.counter('n_total', 'N.');
    r.histogram('h', 'H.', [1]);
    expect(r.render()).toBe('# HELP n_total N.\n# TYPE n_total counter\nn_total 0\n# HELP h H.\n# TYPE h histogram\n');
  });
});
