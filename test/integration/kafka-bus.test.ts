/**
 * KafkaBus against the real Kafka of scripts/services.sh (test/support/services.ts). Every test
 * uses topics under a prefix of its own, and they are deleted at the end.
 * The test broker checks retention every 5 s (scripts/kafka/server.properties.template).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord, Subscription } from '../../src/bus/bus.ts';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { partitionForKey } from '../../src/bus/murmur2.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { createLogger } from '../../src/logger.ts';
import { serviceEnv, uniquePrefix as uniqueName } from '../support/services.ts';

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

  it('reads back published records on their key partitions with their event times as timestamps', async () => {
    const t = await topic('roundtrip', 3);
    await bus.publish([
      { topic: t, key: 'BTC', value: { v: 1, price: 41_000 }, ts: TS_2022 },
      { topic: t, key: 'ETH', value: { v: 1, price: 3_100 }, ts: TS_2022 + 1000 },
      { topic: t, key: 'BTC', value: { v: 1, price: 41_100 }, ts: TS_2022 + 2000 },
      { topic: t, key: 'gone', value: null, ts: TS_2022 + 3000 },
    ]);
    await bus.publishRaw([{ topic: t, key: 'raw', value: Buffer.from('not json'), ts: TS_2022 + 4000 }]);
    const records = await bus.readToEnd(t);
    expect(records).toHaveLength(5);
    const btc = records.filter((r) => r.key === 'BTC');
    expect(btc.map((r) => [r.partition, r.ts, decode(r)])).toEqual([
      [partitionForKey('BTC', 3), TS_2022, { v: 1, price: 41_000 }],
      [partitionForKey('BTC', 3), TS_2022 + 2000, { v: 1, price: 41_100 }],
    ]);
    expect(records.find((r) => r.key === 'gone')?.value).toBeNull();
    expect(records.find((r) => r.key === 'raw')?.value?.toString()).toBe('not json');
    const ends = await bus.endOffsets(t);
    expect(ends.reduce((s, o) => s + Number(o.offset), 0)).toBe(5);
  });

  it('reads only the offset range asked for', async () => {
    const t = await topic('range', 1);
    await bus.publish([0, 1, 2, 3, 4].map((i) => ({ topic: t, key: 'k', value: i, ts: TS_2022 + i })));
    const part = await bus.readToEnd(t, { from: [{ partition: 0, offset: '1' }], to: [{ partition: 0, offset: '4' }] });
    expect(part.map(decode)).toEqual([1, 2, 3]);
  });

  it('finds the first offset at or after a time on every partition, and the end where there is none', async () => {
    const t = await topic('bytime', 2);
    await bus.publish([0, 1, 2].map((i) => ({ topic: t, key: null, value: i, ts: TS_2022 + i * 60_000, partition: 0 })));
    await bus.publish([{ topic: t, key: null, value: 'late', ts: TS_2022 + 10 * 60_000, partition: 1 }]);
    expect(await bus.offsetsForTimestamp(t, TS_2022 + 90_000)).toEqual([
      { partition: 0, offset: '2' },
      { partition: 1, offset: '0' },
    ]);
    expect(await bus.offsetsForTimestamp(t, TS_2022 + 11 * 60_000)).toEqual([
      { partition: 0, offset: '3' },
      { partition: 1, offset: '1' },
    ]);
  });

  it('delivers to a subscriber and commits only what the caller commits', async () => {
    const t = await topic('subscribe', 2);
    const groupId = `${uniquePrefix('group')}g`;
    await bus.publish([1, 2, 3].map((v) => ({ topic: t, key: `k${v}`, value: v, ts: TS_2022 + v })));
    const got: ConsumedRecord[] = [];
    const sub = await bus.subscribe({ groupId, topics: [t], fromBeginning: true, onBatch: async (rs) => void got.push(...rs) });
    await until('the three records', () => got.length === 3);
    await bus.publish([{ topic: t, key: 'k4', value: 4, ts: TS_2022 + 4 }]);
    await until('the record published after subscribing', () => got.length === 4);
    expect(got.map(decode).sort()).toEqual([1, 2, 3, 4]);
    expect((await bus.committedOffsets(groupId, t)).map((o) => o.offset)).toEqual(['-1', '-1']);
    // while the group is active, commits go through its member
    const next = (await bus.endOffsets(t)).map((o) => ({ partition: o.partition, offset: o.offset }));
    await bus.commitOffsets(groupId, t, next);
    expect(await bus.committedOffsets(groupId, t)).toEqual(next);
    await sub.stop();
    // with no member left, through the admin API
    await bus.commitOffsets(groupId, t, [{ partition: 0, offset: '0' }]);
    expect((await bus.committedOffsets(groupId, t)).find((o) => o.partition === 0)?.offset).toBe('0');
  });

  it('reports a batch handler failing for good through onCrash and commits nothing', async () => {
    const t = await topic('crash', 1);
    const groupId = `${uniquePrefix('group')}g`;
    await bus.publish([{ topic: t, key: 'k', value: 1, ts: TS_2022 }]);
    const crashes: Error[] = [];
    const sub = await bus.subscribe({
      groupId,
      topics: [t],
      fromBeginning: true,
      onBatch: async () => {
        throw new Error('bug in the handler');
      },
      onCrash: (e) => void crashes.push(e),
    });
    await until('the crash is reported', () => crashes.length === 1);
    expect(crashes[0].message).toBe('bug in the handler');
    await sub.stop();
    expect(await bus.committedOffsets(groupId, t)).toEqual([{ partition: 0, offset: '-1' }]);
  });

  it('splits the partitions of a topic between two members of one group', async () => {
    const t = await topic('split', 4);
    const groupId = `${uniquePrefix('group')}g`;
    const onBatch = async (): Promise<void> => {};
    const subs: Subscription[] = [];
    try {
      subs.push(await bus.subscribe({ groupId, topics: [t], fromBeginning: true, onBatch }));
      subs.push(await bus.subscribe({ groupId, topics: [t], fromBeginning: true, onBatch }));
      const owned = (s: Subscription): readonly number[] => s.assignment().get(t) ?? [];
      await until('both members own two partitions', () => owned(subs[0]).length === 2 && owned(subs[1]).length === 2);
      expect([...owned(subs[0]), ...owned(subs[1])].sort()).toEqual([0, 1, 2, 3]);
    } finally {
      await Promise.all(subs.map((s) => s.stop()));
    }
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
