import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { fold, influxSink, kafkaBus } from '../support/pipeline.ts';
import { committedCount, compareWithFold, metricValue, prepareStream, publishQuotes, sleep, spawnProcess, waitHealthy, type Child, type Comparison, type Stream, tearDown } from './harness.ts';
import { partitionForKey } from '../../src/bus/murmur2.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';

/**
 * Issue 13 point 4 (docs/reliability.md "Crashes in live mode"): two `ccm process` instances share
 * the book; instance a is SIGKILLed in the middle of the stream (it hands nothing over), and b,
 * once the group has noticed (the session timeout), takes a's entities over, replaying the stretch
 * from a's last commit for them (src/processor/takeover.ts). Shown: no alert is lost or fired
 * twice (each eventId of the fold once after dropping redeliveries, none with another eventId), no
 * point is missing, extra or different.
 *
 * The stream is published while the instances run, in slices, on ONE quote partition (so the order
 * of application is the topic's, as in kafka-restart.test.ts).
 */
const QUOTES = 12_000;
const SLICE = 400;
const ENTITIES = 40;
const env = serviceEnv('fault');
const COMPARED = ['price', 'index', 'valuation', 'facility', 'item', 'stress', 'alert', 'exposure'];

describe('one of two processor instances killed mid-stream', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let result: Comparison;
  const children: Child[] = [];
  let ownedBefore: number[] = [];
  let ownedByBAfter = 0;
  let killedAt = 0;
  let bExit: number | null = null;
  const aEntities = new Set<string>();

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('killed'), entities: ENTITIES, quotes: QUOTES, seed: 31, quotePartitions: 1 });
    await publishQuotes(bus, s.topics.quotes, s.quotes.slice(0, SLICE));
    for (const id of ['a', 'b']) {
      const c = await spawnProcess({ dir: s.dir, env: { ...s.env, CCM_INSTANCE_ID: id }, args: ['--config', s.configPath, '--run', s.run, '--no-ticks'] });
      children.push(c);
      await waitHealthy(c);
    }
    for (let i = 0; i < 300; i++) {
      ownedBefore = await Promise.all(children.map((c) => metricValue(c, 'ccm_entities_owned')));
      if (ownedBefore.every((n) => n > 0) && ownedBefore[0] + ownedBefore[1] === ENTITIES) break;
      await sleep(100);
    }
    // the rest of the stream in slices; a is killed a third of the way through
    for (let at = SLICE; at < QUOTES; at += SLICE) {
      await publishQuotes(bus, s.topics.quotes, s.quotes.slice(at, at + SLICE));
      if (killedAt === 0 && at >= QUOTES / 3) {
        // wait until a has committed something of this slice, so it dies with work in flight
        for (let i = 0; i < 200 && (await committedCount(bus, `${s.prefix}g.quotes.a`, s.topics.quotes)) < at - SLICE; i++) await sleep(50);
        // a's entities: those of the entity partitions it was last assigned
        const assigned = children[0].logs().filter((l) => l.msg === 'entity partitions assigned').at(-1)?.partitions as number[] | undefined;
        for (const e of s.entities) if ((assigned ?? []).includes(partitionForKey(e.id, 2))) aEntities.add(e.id);
        children[0].proc.kill('SIGKILL');
        killedAt = at;
      }
      await sleep(250);
    }
    for (let i = 0; i < 1200 && (await metricValue(children[1], 'ccm_entities_owned')) !== ENTITIES; i++) await sleep(100);
    ownedByBAfter = await metricValue(children[1], 'ccm_entities_owned');
    for (let i = 0; i < 1200 && (await committedCount(bus, `${s.prefix}g.quotes.b`, s.topics.quotes)) < QUOTES; i++) await sleep(100);
    children[1].proc.kill('SIGTERM');
    bExit = (await children[1].exited).code;
    const records = await bus.readToEnd(s.topics.quotes);
    result = await compareWithFold(bus, env, s, records, fold(s.params, s.entities, records, { flush: false }), COMPARED);
    console.log(
      `instance killed: owned ${ownedBefore.join(' + ')}, a killed at quote ${killedAt}, b owns ${ownedByBAfter} after; ${result.expectedPoints} points compared: ${result.missing.length} missing, ${result.extra.length} extra, ${result.differing.length} differing; alerts ${result.publishedAlerts.length} published (unique) against ${result.expectedAlerts.length} in the fold, ${result.redelivered} redelivered`,
    );
  }, 400_000);

  afterAll(async () => {
    await tearDown({ children, sink, bus, run: s?.run });
  });

  it('split the book, and b took all of it over after a was killed', () => {
    expect(ownedBefore.every((n) => n > 0)).toBe(true);
    expect(aEntities.size).toBe(ownedBefore[0]);
    expect(killedAt).toBeGreaterThan(0);
    expect(ownedByBAfter).toBe(ENTITIES);
    expect(bExit).toBe(0);
  });

  it('writes no point the fold lacks and none different', () => {
    expect(result.extra.slice(0, 5)).toEqual([]);
    expect(result.differing.slice(0, 5)).toEqual([]);
  });

  it('misses no point: b replays the stretch a had processed but not written (takeover.ts)', () => {
    expect(result.missing.slice(0, 5)).toEqual([]);
  });

  it('fires no alert twice: the alerts of the fold, each eventId once after dropping redeliveries', () => {
    expect(result.expectedAlerts.length).toBeGreaterThan(0);
    expect(result.publishedAlerts).toEqual(result.expectedAlerts);
  });
});
