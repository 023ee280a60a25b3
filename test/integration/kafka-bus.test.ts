/**
 * KafkaBus against the real Kafka of scripts/services.sh (test/support/services.ts): the Bus
 * contract that MemoryBus keeps too (test/support/bus-contract.ts), and what only Kafka does
 * (topic configs, retention). Every test uses topics under a prefix of its own, and they are
 * deleted at the end.
 * The test broker checks retention every 5 s (scripts/kafka/server.properties.template).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { createLogger } from '../../src/logger.ts';
import { serviceEnv, uniquePrefix as uniqueName } from '../support/services.ts';
import { busContract } from '../support/bus-contract.ts';

const bus = new KafkaBus({
  brokers: serviceEnv('default').kafkaBrokers,
  clientId: uniqueName('kafka-bus'),
  logger: createLogger({ level: 'silent' }),
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
  maxWaitTimeMs: 100,
});
const created: string[] = [];

const uniquePrefix = (name: string): string => `${uniqueName(name)}.`;

async function topic(name: string, partitions: number, retentionMs: number | null = null): Promise<string> {
  const t = `${uniquePrefix(name)}t`;
  await bus.ensureTopics([{ topic: t, partitions, retentionMs }]);
  created.push(t);
  return t;
}

/** Polls until `check` holds (Kafka delivers and rebalances asynchronously); fails after `boundMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, boundMs = 60_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened within ${boundMs} ms: ${what}`);
}

const decode = (r: ConsumedRecord): unknown => (r.value === null ? null : JSON.parse(r.value.toString('utf8')));
const TS_2022 = Date.UTC(2022, 0, 3, 12);

afterAll(async () => {
  await bus.deleteTopics(created);
  await bus.close();
});

busContract('KafkaBus on the real Kafka', () => ({
  bus,
  topic: (name, partitions) => topic(name, partitions),
  group: (name) => `${uniquePrefix(name)}g`,
  boundMs: 60_000,
}));

describe('KafkaBus', () => {
  it('creates the monitor topics once and reads an empty topic to its end at once', async () => {
    const prefix = uniquePrefix('specs');
    const specs = topicSpecs(prefix, { quotePartitions: 3, entityPartitions: 2 });
    created.push(...specs.map((s) => s.topic));
    await bus.ensureTopics(specs);
    await bus.ensureTopics(specs);
    const names = topicNames(prefix);
    expect(await bus.listTopics()).toEqual(expect.arrayContaining(specs.map((s) => s.topic)));
    expect(await bus.partitionCount(names.quotes)).toBe(3);
    expect(await bus.partitionCount(names.entities)).toBe(2);
    expect(await bus.readToEnd(names.entities)).toEqual([]);
  });

  it('keeps records stamped in 2022 in a topic kept forever while an expiring topic loses them', async () => {
    const forever = await topic('forever', 1, null);
    const expiring = await topic('expiring', 1, 1000);
    const old = [0, 1, 2].map((i) => ({ key: 'BTC', value: { i }, ts: TS_2022 + i * 86_400_000 }));
    await bus.publish(old.map((r) => ({ ...r, topic: forever })));
    await bus.publish(old.map((r) => ({ ...r, topic: expiring })));
    expect(await bus.endOffsets(expiring)).toEqual([{ partition: 0, offset: '3' }]);
    // the retention check (every 5 s on the test broker) has run once the expiring copy is gone
    await until('the expiring topic emptied by retention', async () => (await bus.readToEnd(expiring)).length === 0);
    const kept = await bus.readToEnd(forever);
    expect(kept.map((r) => [r.ts, decode(r)])).toEqual(old.map((r) => [r.ts, r.value]));
  });
});
