import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { partitionForKey } from '../../src/bus/murmur2.ts';
import { busContract } from '../support/bus-contract.ts';
import { KAFKA_LONG_MAX, replayTopicSpec, topicConfigEntries, topicNames, topicSpecs } from '../../src/bus/topics.ts';

/** Polls until `check` holds (deliveries are asynchronous); fails with `what` after a generous bound. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`never happened: ${what}`);
}

const decode = (r: ConsumedRecord): unknown => (r.value === null ? null : JSON.parse(r.value.toString('utf8')));

describe('partitionForKey', () => {
  it('puts every key on the partition kafkajs DefaultPartitioner picks', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const keys = ['BTC', 'ETH', 'hashprice', 'rental:H100-SXM', 'resale:S19XP', 'northwind-neocloud', 'a', 'ab', 'abc', 'abcd', 'ünïcödé', ''];
    for (const n of [1, 2, 3, 6, 7, 12]) {
      const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }));
      for (const key of keys) {
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, n), `${key} of ${n}`).toBe(expected);
      }
    }
  });
});

describe('topics', () => {
  it('names every topic under the prefix, replay topics per run', () => {
    const t = topicNames('x.');
    expect([t.quotes, t.entities, t.valuations, t.alerts, t.alertState, t.deadletter, t.history, t.replayQuotes('r1')]).toEqual([
      'x.quotes',
      'x.entities',
      'x.valuations',
      'x.alerts',
      'x.alert-state',
      'x.deadletter',
      'x.history',
      'x.replay.r1.quotes',
    ]);
    expect(topicNames().quotes).toBe('ccm.quotes');
  });

  it('compacts entities and alert-state and keeps alerts, history and replays forever', () => {
    const specs = new Map(topicSpecs('p.', { quotePartitions: 3, quotesRetentionMs: 1000 }).map((s) => [s.topic, s]));
    expect(specs.get('p.quotes')).toEqual({ topic: 'p.quotes', partitions: 3, retentionMs: 1000 });
    expect(specs.get('p.entities')).toMatchObject({ partitions: 6, compacted: true, retentionMs: null });
    expect(specs.get('p.alert-state')).toMatchObject({ compacted: true, retentionMs: null });
    expect(specs.get('p.alerts')?.retentionMs).toBeNull();
    expect(specs.get('p.history')?.retentionMs).toBeNull();
    expect(specs.get('p.valuations')?.retentionMs).toBe(90 * 24 * 3600 * 1000);
    expect(replayTopicSpec('p.', 'r')).toEqual({ topic: 'p.replay.r.quotes', partitions: 1, retentionMs: null });
  });

  it('gives every topic event-time timestamps without a future limit, and -1 retention for forever', () => {
    const entries = Object.fromEntries(topicConfigEntries({ topic: 't', partitions: 1, compacted: true, retentionMs: null }).map((e) => [e.name, e.value]));
    expect(entries).toEqual({
      'message.timestamp.type': 'CreateTime',
      'message.timestamp.after.max.ms': KAFKA_LONG_MAX,
      'retention.ms': '-1',
      'cleanup.policy': 'compact',
    });
    const plain = topicConfigEntries({ topic: 't', partitions: 1, retentionMs: 5000 });
    expect(plain).toContainEqual({ name: 'retention.ms', value: '5000' });
    expect(plain.some((e) => e.name === 'cleanup.policy')).toBe(false);
  });
});

busContract('MemoryBus', () => {
  const bus = new MemoryBus();
  return {
    bus,
    topic: async (name, partitions) => {
      await bus.ensureTopics([{ topic: name, partitions, retentionMs: null }]);
      return name;
    },
    group: (name) => `${name}.g`,
    boundMs: 5_000,
  };
});

describe('MemoryBus', () => {
  it('refuses to publish to a topic that was never created', async () => {
    const bus = new MemoryBus();
    await expect(bus.publish([{ topic: 'nope', key: 'k', value: 1, ts: 0 }])).rejects.toMatchObject({ code: 'BUS_FAILED' });
  });

  it('starts a new group at the end when not reading from the beginning', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'a', value: 'old', ts: 1 }]);
    const got: unknown[] = [];
    const sub = await bus.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: false, onBatch: async (rs) => void got.push(...rs.map(decode)) });
    await until('assignment', () => sub.assignment().size === 1);
    await bus.publish([{ topic: 't', key: 'a', value: 'new', ts: 2 }]);
    await until('the new record', () => got.length === 1);
    expect(got).toEqual(['new']);
    await sub.stop();
  });

  it('hands a moved partition to the other member at the committed offset', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 'e', partitions: 2 }]);
    await bus.publishRaw([0, 1, 2].map((i) => ({ topic: 'e', key: null, value: `p1-${i}`, ts: i, partition: 1 })));
    const seenByA: string[] = [];
    const a = await bus.subscribe({ groupId: 'g', topics: ['e'], fromBeginning: true, onBatch: async (rs) => void seenByA.push(...rs.map((r) => String(r.value))) });
    await until('a read partition 1', () => seenByA.length === 3);
    await bus.commitOffsets('g', 'e', [{ partition: 1, offset: '2' }]);
    const seenByB: string[] = [];
    const b = await bus.subscribe({ groupId: 'g', topics: ['e'], fromBeginning: true, onBatch: async (rs) => void seenByB.push(...rs.map((r) => String(r.value))) });
    await until('b read from the commit', () => seenByB.length === 1);
    expect(b.assignment().get('e')).toEqual([1]);
    expect(seenByB).toEqual(['p1-2']);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('holds deliveries while paused and catches up on resume', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const got: unknown[] = [];
    const sub = await bus.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, onBatch: async (rs) => void got.push(...rs.map(decode)) });
    sub.pause();
    await bus.publish([{ topic: 't', key: 'a', value: 1, ts: 1 }]);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([]);
    sub.resume();
    await until('delivery after resume', () => got.length === 1);
    await sub.stop();
  });

  it('waits for the next batch of a partition until the previous one resolves', async () => {
    const bus = new MemoryBus({ maxBatchRecords: 1 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([1, 2].map((v) => ({ topic: 't', key: 'a', value: v, ts: v })));
    let release: () => void = () => {};
    const calls: number[] = [];
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      onBatch: async (rs) => {
        calls.push(Number(rs[0].offset));
        if (calls.length === 1) await new Promise<void>((r) => (release = r));
      },
    });
    await until('first batch', () => calls.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual([0]);
    release();
    await until('second batch', () => calls.length === 2);
    expect(calls).toEqual([0, 1]);
    await sub.stop();
  });

});
