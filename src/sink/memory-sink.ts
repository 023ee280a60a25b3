import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Point, Sink } from './sink.ts';
import { TAG } from './measurements.ts';

/**
 * The Sink port in memory (STYLE.md 14): the embedded default mode and the tests. Points are keyed
 * like InfluxDB keys them, by measurement + sorted tags + timestamp, and a rewrite merges its
 * fields over the stored ones (InfluxDB's rule for a point of the same series and time), so
 * redelivery is idempotent here too. No rollups.
 */
export class MemorySink implements Sink {
  private readonly store = new Map<string, Point>();
  private closed = false;

  async ensure(): Promise<void> {}

  async write(points: readonly Point[]): Promise<void> {
    if (this.closed) throw new MonitorError('sink is closed', { code: ErrorCode.SINK_WRITE_FAILED });
    for (const p of points) {
      if (!Number.isFinite(p.ts)) throw new MonitorError(`point ${p.measurement}: timestamp must be finite`, { code: ErrorCode.SINK_WRITE_FAILED });
      const key = pointKey(p);
      const old = this.store.get(key);
      const fields: Record<string, number> = { ...(old?.fields ?? {}) };
      for (const [k, v] of Object.entries(p.fields)) if (Number.isFinite(v)) fields[k] = v;
      this.store.set(key, { measurement: p.measurement, tags: sortedTags(p.tags), fields, ts: p.ts });
    }
  }

  async deleteRun(run: string): Promise<void> {
    for (const [key, p] of this.store) if (p.tags[TAG.run] === run) this.store.delete(key);
  }

  async listRuns(): Promise<string[]> {
    const runs = new Set<string>();
    for (const p of this.store.values()) {
      const run = p.tags[TAG.run];
      if (run !== undefined) runs.add(run);
    }
    return [...runs].sort();
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Every point of a measurement (all when none is given), in (series, time) order. */
  points(measurement?: string): Point[] {
    return [...this.store.values()]
      .filter((p) => measurement === undefined || p.measurement === measurement)
      .sort((a, b) => seriesKey(a).localeCompare(seriesKey(b)) || a.ts - b.ts);
  }

  /** The distinct series keys (`measurement,tag=v,...` with tags sorted, as InfluxDB prints them). */
  series(): string[] {
    return [...new Set([...this.store.values()].map(seriesKey))].sort();
  }

  /** How many points are stored. */
  get size(): number {
    return this.store.size;
  }
}

function sortedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function seriesKey(p: Pick<Point, 'measurement' | 'tags'>): string {
  return [p.measurement, ...Object.entries(sortedTags(p.tags)).map(([k, v]) => `${k}=${v}`)].join(',');
}

function pointKey(p: Point): string {
  return `${seriesKey(p)} ${p.ts}`;
}
