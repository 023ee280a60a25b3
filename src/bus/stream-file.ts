import { createReadStream, createWriteStream } from 'node:fs';
import { createGunzip, createGzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/**
 * Stream files (ARCHITECTURE.md): gzip NDJSON, one record a line, in event-time order:
 * `{ "topic": "quotes", "key": "BTC", "ts": 1735689600000, "value": {...} }`.
 * Used by record, backfill, import-csv, simulate and as replay input.
 */
export interface StreamRecord {
  readonly topic: string;
  readonly key: string | null;
  readonly ts: number;
  readonly value: unknown;
}

export const toStreamLine = (r: StreamRecord): string => JSON.stringify({ topic: r.topic, key: r.key, ts: r.ts, value: r.value });

export function parseStreamLine(line: string, where: string): StreamRecord {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (cause) {
    throw new MonitorError(`${where}: not JSON`, { code: ErrorCode.QUOTE_INVALID, cause });
  }
  const r = o as Partial<StreamRecord>;
  if (typeof r !== 'object' || r === null || typeof r.topic !== 'string' || typeof r.ts !== 'number' || !('value' in r)) {
    throw new MonitorError(`${where}: a stream record needs topic, key, ts and value`, { code: ErrorCode.QUOTE_INVALID });
  }
  return { topic: r.topic, key: r.key ?? null, ts: r.ts, value: r.value };
}

/** Writes records (already in event-time order) to a gzip NDJSON file. Deterministic bytes for the same records. */
export async function writeStreamFile(path: string, records: AsyncIterable<StreamRecord> | Iterable<StreamRecord>): Promise<number> {
  const gz = createGzip({ level: 6 });
  const out = createWriteStream(path);
  gz.pipe(out);
  let n = 0;
  for await (const r of records) {
    if (!gz.write(toStreamLine(r) + '\n')) await once(gz, 'drain');
    n++;
  }
  gz.end();
  await once(out, 'finish');
  return n;
}

/** Reads a stream file record by record. Plain (non-gzip) NDJSON is accepted too, by file name (.ndjson/.jsonl). */
export async function* readStreamFile(path: string): AsyncGenerator<StreamRecord> {
  const raw = createReadStream(path);
  const input = /\.(ndjson|jsonl)$/.test(path) ? raw : raw.pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    yield parseStreamLine(line, `${path}:${n}`);
  }
}
