import { join } from 'node:path';
import { compareEventOrder } from '../bus/event-order.ts';
import { mkdir } from 'node:fs/promises';
import type { Bus, ConsumedRecord } from '../bus/bus.ts';
import { writeStreamFile, type StreamRecord } from '../bus/stream-file.ts';

/**
 * `ccm record`: the quotes topic to stream files, one per UTC day (`quotes-YYYY-MM-DD.ndjson.gz`),
 * each in event-time order ((ts, partition, offset), the processor's order). Reads what the topic
 * holds between `fromMs` and `toMs` (default: all of it) at the time of the call.
 */
/**
 * Records with `fromMs <= ts <= toMs` (either bound optional). Offsets by timestamp give the exact
 * start (the first offset at or after fromMs: every earlier offset is older), but within a partition
 * event times can be out of order, so the read goes on to the first offset an allowance past toMs
 * and keeps only the records inside the range.
 */
export const RANGE_END_ALLOWANCE_MS = 3_600_000;

export async function readTimeRange(bus: Bus, topic: string, range: { fromMs?: number; toMs?: number }): Promise<ConsumedRecord[]> {
  const from = range.fromMs !== undefined ? await bus.offsetsForTimestamp(topic, range.fromMs) : undefined;
  const to = range.toMs !== undefined ? await bus.offsetsForTimestamp(topic, range.toMs + RANGE_END_ALLOWANCE_MS + 1) : undefined;
  const recs = await bus.readToEnd(topic, { from, to });
  return recs.filter((r) => (range.fromMs === undefined || r.ts >= range.fromMs) && (range.toMs === undefined || r.ts <= range.toMs));
}

export async function recordQuotes(bus: Bus, topic: string, outDir: string, range: { fromMs?: number; toMs?: number } = {}): Promise<Array<{ file: string; records: number }>> {
  const recs = await readTimeRange(bus, topic, range);
  recs.sort(compareEventOrder);
  const byDay = new Map<string, ConsumedRecord[]>();
  for (const r of recs) {
    const day = new Date(r.ts).toISOString().slice(0, 10);
    const list = byDay.get(day) ?? [];
    list.push(r);
    byDay.set(day, list);
  }
  await mkdir(outDir, { recursive: true });
  const out: Array<{ file: string; records: number }> = [];
  for (const [day, list] of [...byDay].sort(([a], [b]) => a.localeCompare(b))) {
    const file = join(outDir, `quotes-${day}.ndjson.gz`);
    const records: StreamRecord[] = list.map((r) => {
      let value: unknown;
      try {
        value = r.value === null ? null : JSON.parse(r.value.toString('utf8'));
      } catch {
        value = r.value?.toString('utf8') ?? null; // kept as it came: a replay dead-letters it again
      }
      return { topic: 'quotes', key: r.key, ts: r.ts, value };
    });
    out.push({ file, records: await writeStreamFile(file, records) });
  }
  return out;
}
