import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isGzip, readStreamFile, toStreamLine, writeStreamFile, type StreamRecord } from '../../src/bus/stream-file.ts';

const records: StreamRecord[] = [
  { topic: 'quotes', key: 'BTC', ts: 1_735_689_600_000, value: { v: 1, instrument: 'BTC', price: 93_000 } },
  { topic: 'quotes', key: 'ETH', ts: 1_735_689_660_000, value: { v: 1, instrument: 'ETH', price: 3_300 } },
];
const plain = records.map(toStreamLine).join('\n') + '\n';

async function readAll(path: string): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for await (const r of readStreamFile(path)) out.push(r);
  return out;
}

describe('stream files', () => {
  it('are written as gzip whatever their name, and read back by their bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-stream-'));
    const named = join(dir, 'x.ndjson');
    expect(await writeStreamFile(named, records)).toBe(2);
    expect(isGzip(await readFile(named))).toBe(true);
    expect(await readAll(named)).toEqual(records);
  });

  it('read plain NDJSON whatever its name, a .gz name included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-stream-'));
    const misnamed = join(dir, 'y.ndjson.gz');
    await writeFile(misnamed, plain);
    expect(await readAll(misnamed)).toEqual(records);
    const gz = join(dir, 'z.jsonl');
    await writeFile(gz, gzipSync(plain));
    expect(await readAll(gz)).toEqual(records);
  });

  it('name the file and line of a line that is not a record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-stream-'));
    const bad = join(dir, 'bad.ndjson');
    await writeFile(bad, `${toStreamLine(records[0])}\n{"oops"\n`);
    await expect(readAll(bad)).rejects.toMatchObject({ code: 'FILE_INVALID', message: `${bad}: line 2: not JSON` });
    await writeFile(bad, '{"topic":"quotes","key":"BTC"}\n');
    await expect(readAll(bad)).rejects.toMatchObject({ message: `${bad}: line 1: a stream record needs topic, key, ts and value` });
  });

  it('say so when a gzip stream is cut short, instead of ending quietly or hanging', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-stream-'));
    const cut = join(dir, 'cut.ndjson.gz');
    const whole = gzipSync(plain.repeat(50));
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(readAll(cut)).rejects.toMatchObject({ code: 'FILE_INVALID', message: expect.stringMatching(/cut\.ndjson\.gz: not a complete gzip stream/) });
  });

  it('read an empty file as no records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-stream-'));
    const empty = join(dir, 'empty.ndjson');
    await writeFile(empty, '');
    expect(await readAll(empty)).toEqual([]);
  });
});
