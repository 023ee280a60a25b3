import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, expectedSeries, fold, influxSink, kafkaBus, runToEnd, TAG_KEYS } from '../support/pipeline.ts';
import { influxClient, readRun } from '../support/influx-query.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { topicNames } from '../../src/bus/topics.ts';
import { publishEntities } from '../../src/bus/publish-entities.ts';
import type { StepOutput, AlertEvent } from '../../src/domain/step/step-types.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { ConsumedRecord, ProduceRecord } from '../../src/bus/bus.ts';

/**
 * The acceptance test of the runtime (ARCHITECTURE.md rule 6; issue "The stream processor",
 * item 3): a seeded stream of 50,000 quotes over several partitions with 1,000 entities, run
 * through the real Kafka into the real InfluxDB, gives exactly the InfluxDB series and alert events
 * of folding `step` over the same input sorted in memory.
 * CCM_ACCEPTANCE_QUOTES / CCM_ACCEPTANCE_ENTITIES shrink it for a quick local look; CI runs the full size.
 */
const QUOTES = Number(process.env.CCM_ACCEPTANCE_QUOTES ?? 50_000);
const ENTITIES = Number(process.env.CCM_ACCEPTANCE_ENTITIES ?? 1_000);
const env = serviceEnv('default');
const T0 = Date.parse('2025-10-01T00:00:00Z');
const MEASUREMENTS = ['price', 'index', 'valuation', 'facility', 'item', 'stress', 'alert', 'exposure'];

describe(`a ${QUOTES}-quote stream with ${ENTITIES} entities through Kafka and InfluxDB`, () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  const prefix = uniquePrefix('accept');
  const run = prefix.replace(/[^a-z0-9]/g, '').slice(0, 40);
  const topics = topicNames(prefix);
  const catalog = loadCatalog();
  const params = { ...defaultDomainParams(catalog), emitIntervalMs: 60_000 };
  const book = generateBook({ entities: ENTITIES, seed: 11 });
  // 20 ms of event time between quotes: ~17 one-minute windows, every instrument quoted by 3 sources
  const quotes = generateQuotes({ seed: 11, count: QUOTES, startTs: T0, cadenceMs: 20, instruments: book.instruments, sourcesPerInstrument: 3 });
  let records: ConsumedRecord[] = [];
  let outputs: StepOutput[] = [];

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    await createTopics(bus, prefix, 4);
    await publishEntities(bus, topics.entities, book.entities, T0);
    for (let i = 0; i < quotes.length; i += 5000) {
      const batch: ProduceRecord[] = quotes.slice(i, i + 5000).map((q) => ({ topic: topics.quotes, key: q.instrument, value: q, ts: q.ts }));
      await bus.publish(batch);
    }
    records = await bus.readToEnd(topics.quotes);
    outputs = fold(params, book.entities, records);
    await runToEnd({ bus, sink, prefix, run, params, groupId: `${prefix}g` });
  }, 900_000);

  afterAll(async () => {
    await sink?.deleteRun(run);
    await sink?.close();
    await bus?.close();
  });

  it('spreads the stream over several partitions', () => {
    expect(records.length).toBe(QUOTES);
    expect(new Set(records.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('writes exactly the series of the in-memory fold', { timeout: 300_000 }, async () => {
    const expected = expectedSeries(outputs, run, MEASUREMENTS);
    const actual = await readRun(influxClient(env), run, MEASUREMENTS, TAG_KEYS);
    expect(expected.size).toBeGreaterThan(QUOTES);
    const missing = [...expected.keys()].filter((k) => !actual.has(k));
    const extra = [...actual.keys()].filter((k) => !expected.has(k));
    expect(missing.slice(0, 5)).toEqual([]);
    expect(extra.slice(0, 5)).toEqual([]);
    let differing = 0;
    let example = '';
    for (const [k, fields] of expected) {
      const got = actual.get(k) ?? {};
      for (const [f, v] of Object.entries(fields)) {
        if (got[f] !== v) {
          differing++;
          example ||= `${k} ${f}: expected ${v}, got ${got[f]}`;
        }
      }
    }
    expect(example).toBe('');
    expect(differing).toBe(0);
  });

  it('publishes exactly the alert events of the in-memory fold', async () => {
    const expected = outputs.filter((o): o is Extract<StepOutput, { kind: 'alert' }> => o.kind === 'alert').map(({ kind: _k, ...a }) => a);
    const published = (await bus.readToEnd(topics.alerts))
      .map((r) => JSON.parse(r.value?.toString('utf8') ?? '{}') as AlertEvent & { run: string; v: number })
      .filter((a) => a.run === run)
      .map(({ run: _r, v: _v, ...a }) => a);
    const order = (a: AlertEvent, b: AlertEvent) => a.at - b.at || a.eventId.localeCompare(b.eventId);
    expect(expected.length).toBeGreaterThan(0);
    expect(published.sort(order)).toEqual([...expected].sort(order));
  });
});
