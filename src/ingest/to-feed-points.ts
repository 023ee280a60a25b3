import type { Point } from '../sink/sink.ts';
import type { FeedSnapshot } from './feed-metrics.ts';

/**
 * Feed snapshots -> `feed` points (ARCHITECTURE.md: measurement `feed`, tags `source` and `run`,
 * fields quotes, rejects, reconnects, last_tick_age_s; a null age is an omitted field), and
 * `dropped`: records the spool dropped unpublished when it was full (docs/reliability.md).
 */
export const FEED_MEASUREMENT = 'feed';

export function toFeedPoints(snapshot: readonly FeedSnapshot[], tsMs: number, run = 'live'): Point[] {
  return snapshot.map((s) => ({
    measurement: FEED_MEASUREMENT,
    tags: { source: s.source, run },
    fields: { quotes: s.quotes, rejects: s.rejects, reconnects: s.reconnects, dropped: s.dropped, ...(s.lastTickAgeS === null ? {} : { last_tick_age_s: s.lastTickAgeS }) },
    ts: tsMs,
  }));
}
