import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, expectedSeries, fold, influxSink, kafkaBus, processorTopics, quietLogger, TAG_KEYS } from '../support/pipeline.ts';
import { influxClient, readRun } from '../support/influx-query.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { topicNames } from '../../src/bus/topics.ts';
import { publishEntities } from '../../src/bus/publish-entities.ts';
import { decodeQuote } from '../../src/processor/decode.ts';
import { Processor } from '../../src/processor/processor.ts';
import { TAG } from '../../src/sink/measurements.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { Bus, ConsumedRecord, ProduceRecord, TopicOffset } from '../../src/bus/bus.ts';
import type { Point, Sink } from '../../src/sink/sink.ts';

/**
 * The write pipeline (docs/processor.md "The write pipeline") on the real Kafka and InfluxDB, with
 * bounds small enough that many chunks are in flight and every chunk is written in many slices:
 * - every commit is behind what InfluxDB acknowledged: each quote below a committed offset has its
 *   `price` point acknowledged before the commit is sent;
 * - `alert-state` and `alerts` records are published per key in the order of the fold;
 * - writes overlap with each other and with `step` (quotes were stepped while a write was open);
 * - the series and alerts equal the fold, and the end offsets are committed.
 * The sink and the bus are the real adapters, wrapped only to observe (and to make each InfluxDB
 * write last a few ms longer, so that overlaps happen on a quiet machine too).
 */
const QUOTES = 4_000;
const ENTITIES = 60;
const env = serviceEnv('default');
const T0 = Date.parse('2025-10-01T00:00:00Z');
const MEASUREMENTS = ['price', 'index', 'valuation', 'facility', 'item', 'stress', 'alert', 'exposure'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const priceKey = (instrument: string, source: string, ts: number) => `${instrument}|${source}|${ts}`;

describe('the write pipeline through Kafka and InfluxDB (tiny chunks and slices)', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  const prefix = uniquePrefix('pipeline');
  const run = prefix.replace(/[^a-z0-9]/g, '').slice(0, 40);
  const topics = topicNames(prefix);
  const params = { ...defaultDomainParams(loadCatalog()), emitIntervalMs: 10_000 };
  const book = generateBook({ entities: ENTITIES, seed: 5 });
  const quotes = generateQuotes({ seed: 5, count: QUOTES, startTs: T0, cadenceMs: 20, instruments: book.instruments, sourcesPerInstrument: 3 });
  let records: ConsumedRecord[] = [];
  let outputs: StepOutput[] = [];
  const ackedPrices = new Set<string>();
  const violations: string[] = [];
  let commitsChecked = 0;
  let openWrites = 0;
  let maxOpenWrites = 0;
  let steppedDuringWrite = 0;
  const published: Array<{ topic: string; key: string | null; value: unknown }> = [];
  let finalCommitted: TopicOffset[] = [];
  let endOffsets: TopicOffset[] = [];

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    await createTopics(bus, prefix, 3);
    await publishEntities(bus, topics.entities, book.entities, T0);
    await bus.publish(quotes.map((q): ProduceRecord => ({ topic: topics.quotes, key: q.instrument, value: q, ts: q.ts })));
    records = await bus.readToEnd(topics.quotes);
    outputs = fold(params, book.entities, records);
    const foldPrices = new Set(outputs.flatMap((o) => (o.kind === 'price' ? [priceKey(o.instrument, o.source, o.ts)] : [])));
    const keyOf = new Map<string, string>();
    for (const r of records) {
      const d = decodeQuote(r);
      const k = d.ok ? priceKey(d.value.instrument, d.value.source, d.value.ts) : '';
      if (foldPrices.has(k)) keyOf.set(`${r.partition}:${r.offset}`, k);
    }

    let processor: Processor | null = null;
    const observedSink: Sink = {
      ensure: () => sink.ensure(),
      deleteRun: (r) => sink.deleteRun(r),
      listRuns: () => sink.listRuns(),
      ping: () => sink.ping(),
      close: async () => undefined,
      write: async (points: readonly Point[]) => {
        openWrites++;
        maxOpenWrites = Math.max(maxOpenWrites, openWrites);
        const before = processor?.stats().events ?? 0;
        try {
          await sleep(3);
          await sink.write(points);
        } finally {
          openWrites--;
        }
        if ((processor?.stats().events ?? 0) > before) steppedDuringWrite++;
        for (const p of points) if (p.measurement === 'price') ackedPrices.add(priceKey(p.tags[TAG.instrument], p.tags[TAG.source], p.ts));
      },
    };
    const observedBus: Bus = {
      ensureTopics: (specs) => bus.ensureTopics(specs),
      deleteTopics: (t) => bus.deleteTopics(t),
      listTopics: () => bus.listTopics(),
      partitionCount: (t) => bus.partitionCount(t),
      publish: (recs) => bus.publish(recs),
      readToEnd: (t, o) => bus.readToEnd(t, o),
      endOffsets: (t) => bus.endOffsets(t),
      offsetsForTimestamp: (t, ts) => bus.offsetsForTimestamp(t, ts),
      subscribe: (o) => bus.subscribe(o),
      commitOffsets: (g, t, o) => bus.commitOffsets(g, t, o),
      committedOffsets: (g, t) => bus.committedOffsets(g, t),
      listGroups: (prefix) => bus.listGroups(prefix),
      close: async () => undefined,
    };
    observedBus.publish = async (recs: readonly ProduceRecord[]) => {
      openWrites++;
      maxOpenWrites = Math.max(maxOpenWrites, openWrites);
      try {
        await bus.publish(recs);
      } finally {
        openWrites--;
      }
      for (const r of recs) published.push({ topic: r.topic, key: r.key, value: r.value });
    };
    observedBus.commitOffsets = async (groupId: string, topic: string, offsets: readonly TopicOffset[]) => {
      if (topic === topics.quotes) {
        commitsChecked++;
        for (const o of offsets) {
          for (const r of records) {
            if (r.partition !== o.partition || BigInt(r.offset) >= BigInt(o.offset)) continue;
            const k = keyOf.get(`${r.partition}:${r.offset}`);
            if (k !== undefined && !ackedPrices.has(k)) violations.push(`commit ${o.partition}:${o.offset} covers ${r.partition}:${r.offset} (${k}) not yet written`);
          }
        }
      }
      await bus.commitOffsets(groupId, topic, offsets);
    };

    const groupId = `${prefix}g`;
    processor = new Processor({
      bus: observedBus,
      sink: observedSink,
      logger: quietLogger(),
      params,
      topics: processorTopics(prefix),
      run,
      groupId,
      instanceId: 'p0',
      lookbackMs: 2 * 24 * 3600_000,
      maxLatenessMs: 2000,
      startFrom: 'earliest',
      untilEnd: true,
      sessionTimeoutMs: 6000,
      write: { chunkQuotes: 37, chunkOutputs: 60, maxInFlight: 2, slicePoints: 150, sliceRecords: 7 },
    });
    await processor.start();
    await processor.done;
    await processor.stop();
    if (processor.error) throw processor.error;
    finalCommitted = await bus.committedOffsets(`${groupId}.quotes.p0`, topics.quotes);
    endOffsets = await bus.endOffsets(topics.quotes);
  }, 600_000);

  afterAll(async () => {
    await sink?.deleteRun(run);
    await sink?.close();
    await bus?.close();
  });

  it('commits only offsets whose quotes InfluxDB has acknowledged, and ends at the end offsets', () => {
    expect(commitsChecked).toBeGreaterThan(10);
    expect(violations.slice(0, 5)).toEqual([]);
    expect(finalCommitted).toEqual(endOffsets);
  });

  it('overlaps the writes with each other and with step', () => {
    expect(maxOpenWrites).toBeGreaterThanOrEqual(2);
    expect(steppedDuringWrite).toBeGreaterThan(0);
  });

  it('publishes alert states and alerts per key in the order step emitted them', () => {
    const seq = (pairs: Array<[string, string]>) => {
      const byKey = new Map<string, string[]>();
      for (const [k, v] of pairs) byKey.set(k, [...(byKey.get(k) ?? []), v]);
      return byKey;
    };
    const expectedStates = seq(outputs.flatMap((o): Array<[string, string]> => (o.kind === 'alert_state' ? [[`${run}/${o.key}`, `${o.status}@${o.since}`]] : [])));
    const states = published.filter((p) => p.topic === topics.alertState);
    const pair = (p: (typeof states)[number]): [string, string] => [p.key ?? '', `${(p.value as { status: string }).status}@${(p.value as { since: number }).since}`];
    // the window-close records, in the fold's order; then, on stop, the handover records (`asOf`)
    // of every status held (docs/processor.md "Rebalance handover"): each the key's final status
    const isHandover = (p: (typeof states)[number]) => (p.value as { asOf?: number }).asOf !== undefined;
    const gotStates = seq(states.filter((p) => !isHandover(p)).map(pair));
    expect(expectedStates.size).toBeGreaterThan(0);
    expect(gotStates).toEqual(expectedStates);
    const firstHandover = states.findIndex(isHandover);
    if (firstHandover >= 0) expect(states.slice(firstHandover).every(isHandover)).toBe(true);
    for (const [key, value] of states.filter(isHandover).map(pair)) if (expectedStates.has(key)) expect(value, key).toBe(expectedStates.get(key)?.at(-1));
    const expectedAlerts = seq(outputs.flatMap((o): Array<[string, string]> => (o.kind === 'alert' ? [[o.entity, o.eventId]] : [])));
    const gotAlerts = seq(published.filter((p) => p.topic === topics.alerts).map((p): [string, string] => [p.key ?? '', (p.value as { eventId: string }).eventId]));
    expect(gotAlerts).toEqual(expectedAlerts);
  });

  it('writes exactly the series of the in-memory fold', async () => {
    const expected = expectedSeries(outputs, run, MEASUREMENTS);
    const actual = await readRun(influxClient(env), run, MEASUREMENTS, TAG_KEYS);
    expect(expected.size).toBeGreaterThan(QUOTES);
    expect([...expected.keys()].filter((k) => !actual.has(k)).slice(0, 5)).toEqual([]);
    expect([...actual.keys()].filter((k) => !expected.has(k)).slice(0, 5)).toEqual([]);
    const differing: string[] = [];
    for (const [k, fields] of expected) {
      const got = actual.get(k) ?? {};
      for (const [f, v] of Object.entries(fields)) if (got[f] !== v) differing.push(`${k} ${f}: expected ${v}, got ${got[f]}`);
    }
    expect(differing.slice(0, 5)).toEqual([]);
  });
});
