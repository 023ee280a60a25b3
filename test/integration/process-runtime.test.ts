import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { influxSink, kafkaBus } from '../support/pipeline.ts';
import { committedCount, metricValue, prepareStream, sleep, spawnProcess, waitHealthy, type Child, type Stream } from '../fault/harness.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { ProduceRecord } from '../../src/bus/bus.ts';

/**
 * `ccm process` as an OS process on the real services (issue "The stream processor on Kafka",
 * items 9 and 10): /healthz turns ready, /metrics counts what it consumed and dead-lettered, a
 * poison quote (valid JSON, impossible price) goes to the dead-letter topic without stalling its
 * partition, and SIGTERM flushes, commits and exits 0 within the 10 seconds the issue allows.
 */
const env = serviceEnv('default');
const QUOTES = 400;

describe('ccm process on Kafka and InfluxDB', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let s: Stream;
  let child: Child;
  let healthBefore = 0;
  let sigtermExit: { code: number | null; signal: NodeJS.Signals | null; afterMs: number } | 'still running';
  let committedAfterStop = 0;
  let endAfterStop = 0;
  const metrics: Record<string, number> = {};

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    s = await prepareStream({ bus, env, prefix: uniquePrefix('proc'), entities: 5, quotes: QUOTES, seed: 3 });
    child = await spawnProcess({ dir: s.dir, env: s.env, args: ['--config', s.configPath, '--run', s.run] });
    // /healthz answers 503 until the consumers joined, then 200
    for (let i = 0; i < 100 && healthBefore === 0; i++) {
      healthBefore = await fetch(`http://127.0.0.1:${child.port}/healthz`).then((r) => r.status).catch(() => 0);
      if (healthBefore === 0) await sleep(100);
    }
    await waitHealthy(child);
    // live: quotes stamped now (the group started at now minus the look-back window)
    const now = Date.now();
    const recs: ProduceRecord[] = s.quotes.map((q, i) => ({ topic: s.topics.quotes, key: q.instrument, ts: now + i, value: { ...q, ts: now + i, receivedAt: now + i } }));
    const poison = { v: 1, instrument: 'BTC', price: -42, source: 'poison', ts: now + 10, tsSource: 'source', receivedAt: now + 10 };
    recs.splice(10, 0, { topic: s.topics.quotes, key: 'BTC', ts: now + 10, value: poison });
    await bus.publish(recs);
    const group = `${s.prefix}g.quotes.p0`;
    for (let i = 0; i < 600 && (await committedCount(bus, group, s.topics.quotes)) < recs.length; i++) await sleep(100);
    for (const name of ['ccm_messages_consumed_total', 'ccm_dead_letters_total', 'ccm_sink_batch_points_count', 'ccm_processing_latency_seconds_count', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes']) {
      metrics[name] = await metricValue(child, name);
    }
    // the lag gauge is recomputed every 2 s: poll it (with a deadline) until a round after the last commit
    const lagDeadline = Date.now() + 30_000;
    while ((metrics.ccm_consumer_lag = await metricValue(child, 'ccm_consumer_lag')) !== 0 && Date.now() < lagDeadline) await sleep(100);
    const t0 = Date.now();
    child.proc.kill('SIGTERM');
    sigtermExit = await Promise.race([child.exited.then((e) => ({ ...e, afterMs: Date.now() - t0 })), sleep(10_000).then(() => 'still running' as const)]);
    committedAfterStop = await committedCount(bus, group, s.topics.quotes);
    endAfterStop = (await bus.endOffsets(s.topics.quotes)).reduce((a, e) => a + Number(e.offset), 0);
  });

  afterAll(async () => {
    if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
    await sink?.deleteRun(s?.run ?? 'none');
    await sink?.close();
    await bus?.close();
  });

  it('answers /healthz with 503 while starting and 200 once the consumers joined and the sink answers', () => {
    expect(healthBefore).toBe(503);
  });

  it('counts consumed quotes, dead letters, sink batches and processing latency on /metrics', () => {
    expect(metrics.ccm_messages_consumed_total).toBe(QUOTES + 1);
    expect(metrics.ccm_dead_letters_total).toBe(1);
    expect(metrics.ccm_sink_batch_points_count).toBeGreaterThan(0);
    expect(metrics.ccm_processing_latency_seconds_count).toBe(QUOTES);
    expect(metrics.ccm_consumer_lag).toBe(0);
  });

  it('serves the process’s own memory on /metrics (resident, V8 heap used, external), the process’s figures and not a constant', () => {
    expect(metrics.process_resident_memory_bytes).toBeGreaterThan(20e6);
    expect(metrics.nodejs_heap_size_used_bytes).toBeGreaterThan(5e6);
    expect(metrics.nodejs_heap_size_used_bytes).toBeLessThan(metrics.process_resident_memory_bytes);
    expect(metrics.nodejs_external_memory_bytes).toBeGreaterThan(0);
  });

  it('sends a poison quote to the dead-letter topic with its reason and keeps consuming its partition', async () => {
    const letters = (await bus.readToEnd(s.topics.deadletter)).map((r) => JSON.parse(r.value?.toString('utf8') ?? '{}') as { reason: string; source: string; raw: string });
    expect(letters).toHaveLength(1);
    expect(letters[0].source).toBe('poison');
    expect(letters[0].reason).toMatch(/price.*must be positive/);
    expect(JSON.parse(letters[0].raw)).toMatchObject({ price: -42 });
  });

  it('on SIGTERM leaves the groups with every processed offset committed and exits 0 within 10 seconds', () => {
    expect(sigtermExit).not.toBe('still running');
    expect(sigtermExit).toMatchObject({ code: 0, signal: null });
    expect(committedAfterStop).toBe(endAfterStop);
  });
});
