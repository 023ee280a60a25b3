import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, kafkaBus } from '../support/pipeline.ts';
import { recordQuotes } from '../../src/replay/record.ts';
import { readStreamFile, type StreamRecord } from '../../src/bus/stream-file.ts';
import { topicNames } from '../../src/bus/topics.ts';
import { replay, deleteRun } from '../../src/replay/replay.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { loadCatalog } from '../../src/config/load-sheets.ts';
import { influxSink, quietLogger } from '../support/pipeline.ts';

/** `ccm record` (issue "Replay and scenarios", item 1): the quotes topic to stream files, one per day. */
const env = serviceEnv('default');
const DAY = 86_400_000;
const T0 = Date.parse('2025-10-01T00:00:00Z');
const quote = (instrument: string, price: number, ts: number) => ({ v: 1, instrument, price, source: 'rec', ts, tsSource: 'source', receivedAt: ts });

describe('ccm record', () => {
  const bus = kafkaBus(env);
  const prefix = uniquePrefix('record');
  const topics = topicNames(prefix);
  afterAll(() => bus.close());

  it('writes the quotes of every partition to one stream file per UTC day, each in event-time order', async () => {
    await createTopics(bus, prefix, 3);
    const input = [
      ['BTC', 100_000, T0 + 3_000],
      ['ETH', 4_000, T0 + 1_000],
      ['rental:H100-SXM', 2.1, T0 + 2_000],
      ['BTC', 101_000, T0 + DAY + 5_000],
      ['ETH', 4_100, T0 + DAY + 4_000],
      ['BTC', 99_000, T0 + 2 * DAY - 1],
    ] as const;
    await bus.publish(input.map(([i, p, ts]) => ({ topic: topics.quotes, key: i, value: quote(i, p, ts), ts })));
    const dir = await mkdtemp(join(tmpdir(), 'ccm-record-'));
    const files = await recordQuotes(bus, topics.quotes, dir);
    expect(files.map((f) => [basename(f.file), f.records])).toEqual([
      ['quotes-2025-10-01.ndjson.gz', 3],
      ['quotes-2025-10-02.ndjson.gz', 3],
    ]);
    const day2: StreamRecord[] = [];
    for await (const r of readStreamFile(files[1].file)) day2.push(r);
    expect(day2.map((r) => [r.key, r.ts])).toEqual([
      ['ETH', T0 + DAY + 4_000],
      ['BTC', T0 + DAY + 5_000],
      ['BTC', T0 + 2 * DAY - 1],
    ]);
    expect(day2[0]).toEqual({ topic: 'quotes', key: 'ETH', ts: T0 + DAY + 4_000, value: quote('ETH', 4_100, T0 + DAY + 4_000) });
  });

  it('records only the asked time range', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ccm-record-'));
    const files = await recordQuotes(bus, topics.quotes, dir, { fromMs: T0 + DAY, toMs: T0 + DAY + 4_500 });
    expect(files.map((f) => f.records)).toEqual([1]);
  });

  it('replays a time range of the live quotes topic, found by timestamp, under its own run', async () => {
    const sink = influxSink(env);
    const run = `k${prefix.replace(/[^a-z0-9]/g, '').slice(-12)}`;
    try {
      await sink.ensure();
      const s = await replay({
        bus,
        sink,
        logger: quietLogger(),
        params: defaultDomainParams(await loadCatalog('config/catalog.yaml')),
        topicPrefix: prefix,
        groupId: `${prefix}g`,
        lookbackMs: 2 * DAY,
        maxLatenessMs: 2000,
        sessionTimeoutMs: 6000,
        run,
        input: { kafka: { fromMs: T0 + DAY, toMs: T0 + 2 * DAY } },
        entities: [],
      });
      expect(s.events).toBe(3);
      expect([s.firstTs, s.lastTs]).toEqual([T0 + DAY + 4_000, T0 + 2 * DAY - 1]);
    } finally {
      await deleteRun(bus, sink, prefix, run);
      await sink.close();
    }
  });
});
