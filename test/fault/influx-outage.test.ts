import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { serviceEnv, uniquePrefix, SERVICES_SCRIPT } from '../support/services.ts';
import { fold, influxSink, kafkaBus } from '../support/pipeline.ts';
import { committedCount, compareWithFold, prepareStream, publishQuotes, rssMiB, sleep, spawnProcess, waitHealthy, type Child, type Comparison, type Stream, tearDown } from './harness.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';

/**
 * Issue "The stream processor on Kafka", item 5b: InfluxDB of the fault instance is stopped for
 * 20 seconds while `ccm process` consumes a 50,000-quote stream. Consumption waits on the sink
 * (nothing is committed past what is written), the process's memory stays bounded, and once
 * InfluxDB is back the run completes with exactly the fold's series and alerts.
 */
const QUOTES = 50_000;
const ENTITIES = 100;
const OUTAGE_MS = 20_000;
const env = serviceEnv('fault');
const services = (...args: string[]) => execFileSync('bash', [SERVICES_SCRIPT, ...args, '--instance', 'fault'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

describe('an InfluxDB outage of 20 seconds mid-stream', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let child: Child;
  let result: Comparison;
  let exitCode: number | null = null;
  const rss: number[] = [];
  const committed: number[] = [];
  let influxStopped = false;

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('influx-out'), entities: ENTITIES, quotes: QUOTES, seed: 13 });
    await publishQuotes(bus, s.topics.quotes, s.quotes);
    child = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run, '--no-ticks', '--until-end'] });
    await waitHealthy(child);
    services('stop', 'influx');
    influxStopped = true;
    const pid = child.proc.pid as number;
    const group = `${s.prefix}g.quotes.p0`;
    for (let t = 0; t < OUTAGE_MS; t += 1000) {
      rss.push(rssMiB(pid));
      committed.push(await committedCount(bus, group, s.topics.quotes));
      await sleep(1000);
    }
    services('start', 'influx');
    influxStopped = false;
    exitCode = (await child.exited).code;
    const records = await bus.readToEnd(s.topics.quotes);
    result = await compareWithFold(bus, env, s, records, fold(s.params, s.entities, records));
    console.log(`influx outage: RSS MiB during the outage ${rss.map((r) => r.toFixed(0)).join(' ')}; committed ${committed.join(' ')}`);
  }, 400_000);

  afterAll(async () => {
    if (influxStopped) services('start', 'influx');
    await tearDown({ children: [child], sink, bus, run: s?.run });
  });

  it('commits nothing past what InfluxDB acknowledged while it is down', () => {
    // after the write in flight at the stop, the committed offsets stand still
    expect(committed[committed.length - 1]).toBe(committed[3]);
    expect(committed[committed.length - 1]).toBeLessThan(QUOTES);
  });

  it('keeps its memory bounded while it waits (consumption pauses)', () => {
    expect(Math.max(...rss) - rss[0]).toBeLessThan(100);
  });

  it('completes the run once InfluxDB is back, with exactly the series and alerts of the fold', () => {
    expect(exitCode).toBe(0);
    expect(result.missing.slice(0, 5)).toEqual([]);
    expect(result.extra.slice(0, 5)).toEqual([]);
    expect(result.differing.slice(0, 5)).toEqual([]);
    expect(result.publishedAlerts).toEqual(result.expectedAlerts);
  });
});
