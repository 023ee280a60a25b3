import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, influxSink, kafkaBus, processorTopics, quietLogger } from '../support/pipeline.ts';
import { aSheet, anEntity, params, resaleForLtv } from '../unit/step-helpers.ts';
import { Processor } from '../../src/processor/processor.ts';
import { publishEntities } from '../../src/bus/publish-entities.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';

/**
 * Live time (issue "The stream processor on Kafka", item 6; ARCHITECTURE.md runtime rule 3):
 * wall-clock ticks move the processor clock, so when the only feed goes silent the index turns
 * stale and `stale_data` fires at the first tick past `staleAfter`, and a margin call's cure
 * deadline expires at the first tick past it, with no quote arriving. A fake feed publishes
 * quotes stamped with the wall clock to the real Kafka, then stops.
 */
const env = serviceEnv('default');
const TICK_MS = 200;
const STALE_AFTER_MS = 1500;
const CURE_HOURS = 0.0005; // 1.8 s
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
type Alert = Extract<StepOutput, { kind: 'alert' }>;

describe('a live processor whose feed goes silent', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let processor: Processor;
  const prefix = uniquePrefix('live-time');
  const run = prefix.replace(/[^a-z0-9]/g, '').slice(0, 40);
  const ticks: number[] = [];
  const alerts: Alert[] = [];
  const quoteTimes: number[] = [];

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    await createTopics(bus, prefix, 2);
    const topics = processorTopics(prefix);
    const sheet = aSheet({ facilities: [{ ...aSheet().facilities[0], cureHours: CURE_HOURS }] });
    await publishEntities(bus, topics.entities, [anEntity([sheet])], Date.now());
    const p = params({
      indexRules: { ...params().indexRules, 'kind:resale': { staleAfterMs: STALE_AFTER_MS, maxDeviation: 0.25, minSources: 1 } },
    });
    processor = new Processor({
      bus,
      sink,
      logger: quietLogger(),
      params: p,
      topics,
      run,
      groupId: `${prefix}g`,
      instanceId: 'p0',
      lookbackMs: 60_000,
      maxLatenessMs: 2000,
      ticks: {
        intervalMs: TICK_MS,
        now: () => {
          const t = Date.now();
          ticks.push(t);
          return t;
        },
      },
      startFrom: 'lookback',
      sessionTimeoutMs: 6000,
      onOutputs: (outs) => {
        for (const o of outs) if (o.kind === 'alert') alerts.push(o);
      },
    });
    await processor.start();
    // the fake feed: a quote at LTV 0.5 (the alert machine starts there, ok), then five at 0.8
    // (margin call), stamped with the wall clock, then silence
    for (let i = 0; i < 6; i++) {
      const ts = Date.now();
      quoteTimes.push(ts);
      const price = resaleForLtv(i === 0 ? 0.5 : 0.8);
      await bus.publish([{ topic: topics.quotes, key: 'resale:H100-SXM', ts, value: { v: 1, instrument: 'resale:H100-SXM', price, source: 'fake-feed', ts, tsSource: 'source', receivedAt: ts } }]);
      await sleep(150);
    }
    for (let i = 0; i < 200; i++) {
      if (alerts.some((a) => a.rule === 'stale_data') && alerts.some((a) => a.rule === 'cure_expired')) break;
      await sleep(100);
    }
  });

  afterAll(async () => {
    await processor?.stop();
    await sink?.deleteRun(run);
    await sink?.close();
    await bus?.close();
  });

  it('raises the margin call at the first quote past the line', () => {
    const ltv = alerts.filter((a) => a.rule === 'ltv');
    expect(ltv.map((a) => `${a.from}->${a.to}`)).toEqual(['ok->margin_call']);
    expect(ltv[0].at).toBe(quoteTimes[1]);
  });

  it('fires stale_data at the first tick past staleAfter after the last quote, within staleAfter plus one tick', () => {
    const stale = alerts.filter((a) => a.rule === 'stale_data');
    expect(stale.map((a) => `${a.from}->${a.to}`)).toEqual(['ok->stale']);
    const lastQuote = quoteTimes[quoteTimes.length - 1];
    const firstTickPast = ticks.find((t) => t > lastQuote + STALE_AFTER_MS);
    expect(stale[0].at).toBe(firstTickPast);
    // the tick grid: the tick before it was not yet past staleAfter
    const before = ticks.filter((t) => t < stale[0].at);
    expect(before[before.length - 1]).toBeLessThanOrEqual(lastQuote + STALE_AFTER_MS);
  });

  it('expires the cure deadline at the first tick at or past it, with no quote arriving', () => {
    const cure = alerts.filter((a) => a.rule === 'cure_expired');
    expect(cure).toHaveLength(1);
    const deadline = quoteTimes[1] + CURE_HOURS * 3_600_000;
    expect(cure[0].at).toBe(ticks.find((t) => t >= deadline));
    expect(cure[0].at).toBeGreaterThan(quoteTimes[quoteTimes.length - 1]);
  });
});
