import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/**
 * Stream files (ARCHITECTURE.md): gzip NDJSON, one record a line, in event-time order (plain
 * NDJSON is read too, recognised by its bytes):
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
    throw new MonitorError(`${where}: not JSON`, { code: ErrorCode.FILE_INVALID, cause });
  }
  const r = o as Partial<StreamRecord>;
  if (typeof r !== 'object' || r === null || typeof r.topic !== 'string' || typeof r.ts !== 'number' || !('value' in r)) {
    throw new MonitorError(`${where}: a stream record needs topic, key, ts and value`, { code: ErrorCode.FILE_INVALID });
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

/** The first two bytes of every gzip member (RFC 1952, 2.3.1: ID1 = 31, ID2 = 139). */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** True when the bytes start a gzip stream. */
export const isGzip = (head: Uint8Array): boolean => head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];

async function readHead(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(GZIP_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Reads a stream file record by record. Gzip or plain NDJSON, told apart by the file's first
 * bytes (the gzip magic), never by its name: `ccm simulate --out x.ndjson` writes gzip, and
 * `ccm replay --file x.ndjson` reads it.
 */
export async function* readStreamFile(path: string): AsyncGenerator<StreamRecord> {
  const gzip = isGzip(await readHead(path));
  const raw = createReadStream(path);
  const input = gzip ? raw.pipe(createGunzip()) : raw;
  // a broken gzip stream fails in the gunzip stream, which pipe() does not forward
  const failed = new Promise<never>((_, reject) => {
    const fail = (cause: Error) => reject(new MonitorError(`${path}: ${gzip ? 'not a complete gzip stream' : 'cannot be read'} (${cause.message})`, { code: ErrorCode.FILE_INVALID, cause }));
    raw.once('error', fail);
    if (input !== raw) input.once('error', fail);
  });
  failed.catch(() => undefined);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const it = lines[Symbol.asyncIterator]();
  let n = 0;
  try {
    for (;;) {
      const next = await Promise.race([it.next(), failed]);
      if (next.done) break;
      n++;
      const line = next.value;
      if (line.trim() === '') continue;
      yield parseStreamLine(line, `${path}: line ${n}`);
    }
  } finally {
    lines.close();
    raw.destroy();
  }
}
