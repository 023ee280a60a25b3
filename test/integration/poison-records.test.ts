import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { expectedSeries, fold, influxSink, kafkaBus, TAG_KEYS } from '../support/pipeline.ts';
import { influxClient, readRun } from '../support/influx-query.ts';
import { committedCount, prepareStream, publishQuotes, spawnProcess, type Child, type Stream } from '../fault/harness.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { ConsumedRecord } from '../../src/bus/bus.ts';

/**
 * Issue 13 point 1 (docs/reliability.md "Poison records"), on the real Kafka and InfluxDB: poison
 * records among good ones on the quotes topic (a quote stamped in year 9999 and one with a
 * 70,000-character source, both of which pass the quote schema but not InfluxDB; a record that is
 * not JSON; a negative price) and malformed records on `alert-state`. `ccm process --no-ticks
 * --until-end` writes every good point, dead-letters each poison record with its reason, commits
 * past them and exits 0; a restart over the same topics is clean. Before the bounds, the year-9999
 * quote failed its chunk's write as not retriable: the process exited 1, and did so again on every
 * restart, its offset stuck.
 */
const env = serviceEnv('default');
const QUOTES = 600;

describe('poison records among good ones', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  const exits: Array<number | null> = [];
  let committed = 0;
  let total = 0;
  let deadLetters: Array<{ reason: string; stage: string; topic: string; partition: number; offset: string; raw: string | null; rawChars?: number }> = [];
  let poisonOffsets: string[] = [];
  let missing: string[] = [];
  let good = 0;
  const runs: Child[] = [];

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('poison'), entities: 5, quotes: QUOTES, seed: 41, quotePartitions: 1 });
    const q0 = s.quotes[0];
    await publishQuotes(bus, s.topics.quotes, s.quotes.slice(0, 200));
    await bus.publish([{ topic: s.topics.quotes, key: 'BTC', ts: Date.UTC(9999, 0, 1), value: { ...q0, instrument: 'BTC', ts: Date.UTC(9999, 0, 1) } }]);
    await publishQuotes(bus, s.topics.quotes, s.quotes.slice(200, 400));
    await bus.publish([{ topic: s.topics.quotes, key: 'BTC', ts: s.quotes[399].ts, value: { ...q0, instrument: 'BTC', source: 'x'.repeat(70_000), ts: s.quotes[399].ts } }]);
    await bus.publishRaw([{ topic: s.topics.quotes, key: 'BTC', value: '{"v":1,"instrument":"BTC", cut here', ts: s.quotes[399].ts }]);
    await bus.publish([{ topic: s.topics.quotes, key: 'BTC', ts: s.quotes[399].ts, value: { ...q0, instrument: 'BTC', price: -5, ts: s.quotes[399].ts } }]);
    await publishQuotes(bus, s.topics.quotes, s.quotes.slice(400));
    // alert-state records of this run that are not what the processor writes
    await bus.publishRaw([
      { topic: s.topics.alertState, key: `${s.run}/x-1/-/ltv`, value: 'not json at all', ts: s.quotes[0].ts },
      { topic: s.topics.alertState, key: `${s.run}/x-2/-/ltv`, value: JSON.stringify({ status: 42 }), ts: s.quotes[0].ts },
    ]);
    const all = await bus.readToEnd(s.topics.quotes);
    total = all.length;
    poisonOffsets = all.filter((r) => !s.quotes.some((q) => q.ts === r.ts && r.value?.toString('utf8') === JSON.stringify(q))).map((r) => r.offset);
    for (let run = 0; run < 2; run++) {
      const child = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks', '--until-end'] });
      runs.push(child);
      exits.push((await child.exited).code);
    }
    committed = await committedCount(bus, `${s.prefix}g.quotes.p0`, s.topics.quotes);
    deadLetters = (await bus.readToEnd(s.topics.deadletter)).map((r: ConsumedRecord) => JSON.parse(String(r.value)) as (typeof deadLetters)[number]);
    const goodRecords = all.filter((r) => !poisonOffsets.includes(r.offset));
    const expected = expectedSeries(fold(s.params, s.entities, goodRecords), s.run, ['price']);
    const actual = await readRun(influxClient(env), s.run, ['price'], TAG_KEYS);
    good = expected.size;
    missing = [...expected.keys()].filter((k) => !actual.has(k));
  }, 240_000);

  afterAll(async () => {
    for (const c of runs) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await sink?.deleteRun(s?.run ?? 'none');
    await sink?.close();
    await bus?.close();
  });

  it('runs to the end, and again after a restart, exiting 0 both times', () => {
    expect(exits).toEqual([0, 0]);
  });

  it('commits past every poison record: the offset moves on', () => {
    expect(poisonOffsets).toHaveLength(4);
    expect(committed).toBe(total);
  });

  it('writes the price point of every good quote', () => {
    expect(good).toBe(QUOTES);
    expect(missing.slice(0, 5)).toEqual([]);
  });

  it('dead-letters each poison quote once with its reason, cut to a size Kafka takes', () => {
    const quotes = deadLetters.filter((d) => d.topic === s.topics.quotes);
    expect(quotes.map((d) => d.offset).sort()).toEqual([...poisonOffsets].sort());
    const reasons = quotes.map((d) => d.reason);
    expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^bounds: ts: /), 'bounds: source: 70000 characters, more than 64', 'not JSON', expect.stringMatching(/^schema: price/)]));
    const long = quotes.find((d) => d.reason.startsWith('bounds: source'));
    expect(long?.rawChars ?? long?.raw?.length).toBeGreaterThan(70_000);
  });

  it('dead-letters the malformed alert-state records instead of failing on them', () => {
    const states = deadLetters.filter((d) => d.topic === s.topics.alertState);
    expect(states.length).toBeGreaterThanOrEqual(2);
    expect(new Set(states.map((d) => `${d.partition}/${d.offset}`)).size).toBe(2);
    expect(states.map((d) => d.stage)).toEqual(['alert-state', 'alert-state']);
  });
});
