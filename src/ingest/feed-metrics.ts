import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Feed health per source, kept by the ingestor: Prometheus counters on a Registry of its own
 * (served at /metrics by `ccm ingest`), and a snapshot that becomes `feed` points in InfluxDB
 * (ARCHITECTURE.md "InfluxDB contracts": tags `source`; fields quotes, rejects, reconnects,
 * last_tick_age_s) so the Grafana boards show feed health without Prometheus.
 */
export const FEED_METRIC_NAMES = {
  quotes: 'ccm_feed_quotes_total',
  rejects: 'ccm_feed_rejects_total',
  reconnects: 'ccm_feed_reconnects_total',
  lastTickAge: 'ccm_feed_last_tick_age_seconds',
  dropped: 'ccm_feed_dropped_total',
} as const;

export interface FeedSnapshot {
  readonly source: string;
  readonly quotes: number;
  readonly rejects: number;
  readonly reconnects: number;
  /** Records of this source the spool dropped because it was full (Kafka away too long). */
  readonly dropped: number;
  /** Seconds since the last accepted quote; null before the first one. */
  readonly lastTickAgeS: number | null;
}

interface FeedState {
  quotes: number;
  rejects: number;
  reconnects: number;
  dropped: number;
  lastTickMs: number | null;
}

export class FeedMetrics {
  readonly registry = new Registry();
  private readonly state = new Map<string, FeedState>();
  private readonly quotes: Counter<'source'>;
  private readonly rejects: Counter<'source'>;
  private readonly reconnects: Counter<'source'>;
  private readonly droppedCounter: Counter<'source'>;

  constructor(private readonly clock: () => number = Date.now) {
    const registers = [this.registry];
    this.quotes = new Counter({ name: FEED_METRIC_NAMES.quotes, help: 'Quotes accepted and published, per source', labelNames: ['source'], registers });
    this.rejects = new Counter({ name: FEED_METRIC_NAMES.rejects, help: 'Payloads and quotes dead-lettered, per source', labelNames: ['source'], registers });
    this.reconnects = new Counter({ name: FEED_METRIC_NAMES.reconnects, help: 'Reconnects and retries after a failure or a silence, per source', labelNames: ['source'], registers });
    this.droppedCounter = new Counter({ name: FEED_METRIC_NAMES.dropped, help: 'Records dropped unpublished because the spool was full (Kafka away too long), per source', labelNames: ['source'], registers });
    const snapshot = (): FeedSnapshot[] => this.snapshot();
    new Gauge({
      name: FEED_METRIC_NAMES.lastTickAge,
      help: 'Seconds since the last accepted quote, per source (absent before the first)',
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const s of snapshot()) if (s.lastTickAgeS !== null) this.set({ source: s.source }, s.lastTickAgeS);
      },
    });
  }

  /** Makes a source visible (zeros) before its first event. */
  register(source: string): void {
    if (this.state.has(source)) return;
    this.state.set(source, { quotes: 0, rejects: 0, reconnects: 0, dropped: 0, lastTickMs: null });
    this.quotes.inc({ source }, 0);
    this.rejects.inc({ source }, 0);
    this.reconnects.inc({ source }, 0);
    this.droppedCounter.inc({ source }, 0);
  }

  quote(source: string): void {
    this.register(source);
    const s = this.state.get(source) as FeedState;
    s.quotes++;
    s.lastTickMs = this.clock();
    this.quotes.inc({ source });
  }

  reject(source: string): void {
    this.register(source);
    (this.state.get(source) as FeedState).rejects++;
    this.rejects.inc({ source });
  }

  reconnect(source: string): void {
    this.register(source);
    (this.state.get(source) as FeedState).reconnects++;
    this.reconnects.inc({ source });
  }

  dropped(source: string, count: number): void {
    this.register(source);
    (this.state.get(source) as FeedState).dropped += count;
    this.droppedCounter.inc({ source }, count);
  }

  snapshot(nowMs: number = this.clock()): FeedSnapshot[] {
    return [...this.state]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([source, s]) => ({
        source,
        quotes: s.quotes,
        rejects: s.rejects,
        reconnects: s.reconnects,
        dropped: s.dropped,
        lastTickAgeS: s.lastTickMs === null ? null : Math.max(0, (nowMs - s.lastTickMs) / 1000),
      }));
  }
}
