import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, influxSink, kafkaBus, runToEnd } from '../support/pipeline.ts';
import { influxClient } from '../support/influx-query.ts';
import { SheetVersionSchema, type Entity } from '../../src/domain/sheet/sheet.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { loadCatalog } from '../../src/config/load-sheets.ts';
import { topicNames } from '../../src/bus/topics.ts';
import { publishEntities } from '../../src/bus/publish-entities.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';

/**
 * The skeleton path (issue "Foundation", item 6) on the real Kafka and InfluxDB of
 * scripts/services.sh: a quote on the Kafka quote topic becomes a `price` and a `valuation`
 * point; a restart that re-delivers the same messages duplicates nothing; a malformed message goes
 * to the dead-letter topic with its reason while the processor keeps going.
 */
const env = serviceEnv('default');
const T0 = Date.parse('2025-10-01T00:00:00Z');

const miner: Entity = {
  id: 'skeleton-miner',
  versions: [
    SheetVersionSchema.parse({
      id: 'skeleton-miner',
      name: 'Skeleton miner (test)',
      type: 'miner',
      cash: 1_000_000,
      holdings: { BTC: 100 },
      facilities: [
        {
          id: 'btc-loan',
          kind: 'crypto_loan',
          principal: 5_000_000,
          rate: 0.1,
          start: '2025-01-01',
          maturity: '2027-01-01',
          collateral: ['holdings:BTC'],
          covenants: { ltvWarn: 0.6, ltvMarginCall: 0.7, ltvLiquidation: 0.8 },
        },
      ],
    }),
  ],
};

const quote = (price: number, ts: number, source = 'test-ex') => ({ v: 1, instrument: 'BTC', price, source, ts, tsSource: 'source', receivedAt: ts });

describe('the skeleton path through real Kafka and InfluxDB', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let params: DomainParams;
  const prefix = uniquePrefix('skeleton');
  const run = prefix.replace(/[^a-z0-9]/g, '').slice(0, 40);
  const topics = topicNames(prefix);
  const db = influxClient(env);

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    await createTopics(bus, prefix);
    params = { ...defaultDomainParams(await loadCatalog('config/catalog.yaml')), emitIntervalMs: 60_000 };
    await publishEntities(bus, topics.entities, [miner], T0);
    await bus.publish([
      { topic: topics.quotes, key: 'BTC', value: quote(100_000, T0 + 1_000), ts: T0 + 1_000 },
      { topic: topics.quotes, key: 'BTC', value: quote(95_000, T0 + 61_000), ts: T0 + 61_000 },
    ]);
    await bus.publishRaw([
      { topic: topics.quotes, key: 'BTC', value: 'this is not JSON', ts: T0 + 62_000 },
      { topic: topics.quotes, key: 'BTC', value: JSON.stringify({ ...quote(-5, T0 + 63_000), source: 'poison' }), ts: T0 + 63_000 },
    ]);
    await bus.publish([{ topic: topics.quotes, key: 'BTC', value: quote(60_000, T0 + 125_000), ts: T0 + 125_000 }]);
  });

  afterAll(async () => {
    await sink?.deleteRun(run);
    await sink?.close();
    await bus?.close();
  });

  it('turns quotes into price, index and valuation points read back with InfluxQL', async () => {
    await runToEnd({ bus, sink, prefix, run, params, groupId: `${prefix}g1` });
    const prices = await db.query<{ value: number }>(`SELECT "value" FROM "price" WHERE "run" = '${run}' AND "instrument" = 'BTC'`);
    expect(prices.map((p) => p.value)).toEqual([100_000, 95_000, 60_000]);
    const vals = await db.query<{ ltv: number }>(`SELECT "ltv" FROM "valuation" WHERE "run" = '${run}' AND "entity" = 'skeleton-miner'`);
    expect(vals.length).toBe(3);
    // 5,000,000 owed against 100 BTC
    expect(vals.map((v) => v.ltv)).toEqual([5_000_000 / (100 * 100_000), 5_000_000 / (100 * 95_000), 5_000_000 / (100 * 60_000)]);
    const fac = await db.query<{ status_level: number }>(`SELECT "status_level" FROM "facility" WHERE "run" = '${run}' AND "facility" = 'btc-loan'`);
    expect(fac.map((f) => f.status_level)).toEqual([0, 0, 3]);
  });

  it('sends malformed messages to the dead-letter topic with their reason and keeps going', async () => {
    const dead = await bus.readToEnd(topics.deadletter);
    const reasons = dead.map((d) => JSON.parse(d.value?.toString('utf8') ?? '{}') as { reason: string; source: string; raw: string });
    expect(reasons.map((r) => r.reason)).toEqual(['not JSON', 'schema: price: must be positive']);
    expect(reasons[0].raw).toBe('this is not JSON');
    expect(reasons[1].source).toBe('poison');
    expect(dead.map((d) => d.key)).toEqual(['unknown', 'poison']);
  });

  it('duplicates no point when a restarted processor re-delivers the same messages', async () => {
    const count = async () => {
      const r = await db.query<{ count: number }>(`SELECT count("value") FROM "price" WHERE "run" = '${run}'`);
      const v = await db.query<{ count: number }>(`SELECT count("ltv") FROM "valuation" WHERE "run" = '${run}'`);
      return [r[0]?.count, v[0]?.count];
    };
    const before = await count();
    // the same group resumes after its commits: nothing new; a fresh group re-reads everything
    await runToEnd({ bus, sink, prefix, run, params, groupId: `${prefix}g1` });
    await runToEnd({ bus, sink, prefix, run, params, groupId: `${prefix}g2` });
    expect(await count()).toEqual(before);
    expect(before).toEqual([3, 3]);
  });
});
