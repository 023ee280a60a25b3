import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { fold, influxSink, kafkaBus } from '../support/pipeline.ts';
import { mulberry32 } from '../../bench/book.ts';
import { committedCount, compareWithFold, prepareStream, publishQuotes, sleep, spawnProcess, type Child, type Comparison, type Stream, waitHealthy, tearDown } from './harness.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';

/**
 * Issue "The stream processor on Kafka", item 5a: `ccm process` is SIGKILLed at five points of
 * the 50,000-quote stream drawn from a logged seed (CCM_FAULT_SEED sets it) and restarted each
 * time; the run must equal the in-memory fold: the same InfluxDB series (no point lost, none
 * extra), the same alert sequence once redelivered eventIds are dropped.
 * 100 entities keep the six rebuilds and the fold within the suite's budget on 2 cores.
 */
const QUOTES = 50_000;
const ENTITIES = 100;
const KILLS = 5;
/** Quotes published past a run's kill point before it starts. */
const AHEAD = 2_000;
const env = serviceEnv('fault');
const seed = Number(process.env.CCM_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('a processor killed five times during a 50,000-quote stream', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let result: Comparison;
  const kills: Array<{ at: number; committed: number }> = [];
  let current: Child | null = null;

  beforeAll(async () => {
    console.log(`kill test: seed ${seed} (set CCM_FAULT_SEED=${seed} to reproduce)`);
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('kill'), entities: ENTITIES, quotes: QUOTES, seed: 7 });
    // The stream is published as the kills go: before each run, up to AHEAD quotes past its kill
    // point. A restarted process replays from its checkpoint fast (100 entities), and with the
    // whole stream there it once committed all of it between two polls, so the fifth kill landed
    // on a process at the end of its input (CI, 2026-12-04). Published so, no run can pass its
    // point by more than AHEAD, and every kill lands mid-stream; the last run gets the rest.
    let published = 0;
    const publishTo = async (n: number) => {
      if (n <= published) return;
      await publishQuotes(bus, s.topics.quotes, s.quotes.slice(published, n));
      published = n;
    };
    const rnd = mulberry32(seed);
    const points = Array.from({ length: KILLS }, () => Math.floor(QUOTES * (0.05 + 0.85 * rnd()))).sort((a, b) => a - b);
    console.log(`kill test: kill points (committed quotes) ${points.join(', ')}`);
    const group = `${s.prefix}g.quotes.p0`;
    for (const point of points) {
      await publishTo(Math.min(QUOTES - 1, point + AHEAD));
      // no --until-end: a run that has consumed what is published waits for more, as live does
      const child = (current = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks'] }));
      // killed once it consumes (not during its start-up, which waits up to a session timeout
      // for the killed member to leave the groups), when the kill point is reached
      await waitHealthy(child, 90_000);
      let committed = 0;
      for (;;) {
        if (child.proc.exitCode !== null) throw new Error(`process exited (${child.proc.exitCode}) before kill point ${point}; log ${child.logPath}`);
        committed = await committedCount(bus, group, s.topics.quotes);
        if (committed >= point) break;
        await sleep(50);
      }
      // a little more in flight past the commit: the kill lands anywhere in a batch
      await sleep(Math.floor(rnd() * 300));
      child.proc.kill('SIGKILL');
      const exit = await child.exited;
      expect(exit.signal).toBe('SIGKILL');
      kills.push({ at: point, committed });
    }
    await publishTo(QUOTES);
    const last = (current = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks', '--until-end'] }));
    const exit = await last.exited;
    if (exit.code !== 0) throw new Error(`final run exited ${exit.code}; log ${last.logPath}`);
    const records = await bus.readToEnd(s.topics.quotes);
    result = await compareWithFold(bus, env, s, records, fold(s.params, s.entities, records));
    console.log(`kill test: ${result.expectedPoints} points compared, ${result.expectedAlerts.length} alerts, ${result.redelivered} alert records redelivered`);
    console.log(`kill test: killed at committed ${kills.map((k) => k.committed).join(', ')}`);
  }, 480_000);

  afterAll(async () => {
    await tearDown({ children: [current], sink, bus, run: s?.run });
  });

  it('was killed at five points of the stream', () => {
    expect(kills).toHaveLength(KILLS);
    expect(kills.every((k) => k.committed < QUOTES)).toBe(true);
  });

  it('writes exactly the series of the fold: no point lost, none extra, no field different', () => {
    expect(result.expectedPoints).toBeGreaterThan(QUOTES);
    expect(result.missing.slice(0, 5)).toEqual([]);
    expect(result.extra.slice(0, 5)).toEqual([]);
    expect(result.differing.slice(0, 5)).toEqual([]);
  });

  it('publishes the alert sequence of the fold once redelivered eventIds are dropped', () => {
    expect(result.expectedAlerts.length).toBeGreaterThan(0);
    expect(result.publishedAlerts).toEqual(result.expectedAlerts);
  });
});
