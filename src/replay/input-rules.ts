import type { IndexRule } from '../domain/params.ts';
import type { Quote } from '../domain/market/quote.ts';

/**
 * A replay's staleness and minimum-source rules follow its input's cadence (issue "Replay",
 * item 6): a daily single-source history would otherwise be stale between any two days and never
 * reach `minSources`. Per instrument: `staleAfterMs` = max(configured, 3 x the median gap between
 * consecutive quotes of one source), `minSources` = min(configured, the sources seen). Flags of
 * `ccm replay` override both.
 */
export class CadenceTracker {
  private readonly last = new Map<string, number>();
  private readonly gaps = new Map<string, number[]>();
  private readonly sources = new Map<string, Set<string>>();

  add(q: Quote): void {
    const k = `${q.instrument}\u0000${q.source}`;
    const prev = this.last.get(k);
    if (prev !== undefined && q.ts > prev) {
      const g = this.gaps.get(q.instrument) ?? [];
      if (g.length < 10_000) g.push(q.ts - prev);
      this.gaps.set(q.instrument, g);
    }
    this.last.set(k, q.ts);
    const s = this.sources.get(q.instrument) ?? new Set<string>();
    s.add(q.source);
    this.sources.set(q.instrument, s);
  }

  rules(configured: (instrument: string) => IndexRule, overrides: { staleAfterMs?: number; minSources?: number }): Record<string, IndexRule> {
    const out: Record<string, IndexRule> = {};
    for (const [instrument, sources] of this.sources) {
      const base = configured(instrument);
      const g = [...(this.gaps.get(instrument) ?? [])].sort((a, b) => a - b);
      const median = g.length > 0 ? g[Math.floor(g.length / 2)] : 0;
      out[instrument] = {
        maxDeviation: base.maxDeviation,
        staleAfterMs: overrides.staleAfterMs ?? Math.max(base.staleAfterMs, 3 * median),
        minSources: overrides.minSources ?? Math.max(1, Math.min(base.minSources, sources.size)),
      };
    }
    return out;
  }
}

/** The configured rule of an instrument: exact id, then `kind:<kind>`, then `default`. */
export function ruleOf(rules: Readonly<Record<string, IndexRule>>, instrument: string): IndexRule {
  const kind = instrument === 'BTC' || instrument === 'ETH' ? 'crypto' : instrument === 'hashprice' ? 'hashprice' : instrument.split(':')[0];
  return rules[instrument] ?? rules[`kind:${kind}`] ?? rules.default ?? { staleAfterMs: 86_400_000, maxDeviation: 0.25, minSources: 1 };
}
