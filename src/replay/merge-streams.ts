import { readStreamFile, type StreamRecord } from '../bus/stream-file.ts';

/**
 * Merges stream files (each in event-time order) into one event-time-ordered sequence; ties keep
 * the order of the files as given, then the order within a file, so a merge is deterministic.
 */
export async function* mergeStreamFiles(paths: readonly string[]): AsyncGenerator<StreamRecord> {
  const its = paths.map((p) => readStreamFile(p)[Symbol.asyncIterator]());
  const heads: Array<StreamRecord | null> = await Promise.all(its.map(async (it) => ((await it.next()).value as StreamRecord | undefined) ?? null));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h !== null && (best < 0 || h.ts < (heads[best] as StreamRecord).ts)) best = i;
    }
    if (best < 0) return;
    const r = heads[best] as StreamRecord;
    const next = await its[best].next();
    heads[best] = next.done ? null : (next.value as StreamRecord);
    yield r;
  }
}
