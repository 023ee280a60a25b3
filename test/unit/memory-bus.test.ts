import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord, TopicOffset } from '../../src/bus/bus.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { ErrorCode, MonitorError } from '../../src/domain/errors.ts';
import { partitionForKey } from '../../src/bus/murmur2.ts';
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

describe('MemoryBus', () => {
  it('reads back what was published, keyed to partitions, with event times and offsets', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 'q', partitions: 6 }]);
    await bus.publish([
      { topic: 'q', key: 'BTC', value: { price: 1 }, ts: 1000 },
      { topic: 'q', key: 'BTC', value: { price: 2 }, ts: 2000 },
      { topic: 'q', key: 'ETH', value: null, ts: 3000 },
    ]);
    const all = await bus.readToEnd('q');
    const btc = all.filter((r) => r.key === 'BTC');
    expect(btc.map((r) => [r.partition, r.offset, r.ts, decode(r)])).toEqual([
      [partitionForKey('BTC', 6), '0', 1000, { price: 1 }],
      [partitionForKey('BTC', 6), '1', 2000, { price: 2 }],
    ]);
    expect(all.find((r) => r.key === 'ETH')?.value).toBeNull();
    expect(await bus.partitionCount('q')).toBe(6);
    const ends = await bus.endOffsets('q');
    expect(ends.find((o) => o.partition === partitionForKey('BTC', 6))?.offset).toBe('2');
  });

  it('reads only the partitions and offset range asked for', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    await bus.publishRaw([0, 1, 2, 3].map((i) => ({ topic: 't', key: null, value: `v${i}`, ts: i, partition: 0 })));
    await bus.publishRaw([{ topic: 't', key: null, value: Buffer.from('other'), ts: 9, partition: 1 }]);
    const part = await bus.readToEnd('t', { partitions: [0], from: [{ partition: 0, offset: '1' }], to: [{ partition: 0, offset: '3' }] });
    expect(part.map((r) => r.value?.toString())).toEqual(['v1', 'v2']);
    expect(await bus.readToEnd('t', { partitions: [1] })).toHaveLength(1);
  });

  it('finds the first offset at or after a time, and the end offset where there is none', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([10, 20, 30].map((ts) => ({ topic: 't', key: 'k', value: ts, ts })));
    expect(await bus.offsetsForTimestamp('t', 15)).toEqual([{ partition: 0, offset: '1' }]);
    expect(await bus.offsetsForTimestamp('t', 10)).toEqual([{ partition: 0, offset: '0' }]);
    expect(await bus.offsetsForTimestamp('t', 31)).toEqual([{ partition: 0, offset: '3' }]);
  });

  it('refuses to publish to a topic that was never created', async () => {
    const bus = new MemoryBus();
    await expect(bus.publish([{ topic: 'nope', key: 'k', value: 1, ts: 0 }])).rejects.toMatchObject({ code: 'BUS_FAILED' });
  });

  it('delivers existing and newly published records in offset order, without committing', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'a', value: 1, ts: 1 }]);
    const got: unknown[] = [];
    const sub = await bus.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, onBatch: async (rs) => void got.push(...rs.map(decode)) });
    await until('first record', () => got.length === 1);
    await bus.publish([2, 3].map((v) => ({ topic: 't', key: 'a', value: v, ts: v })));
    await until('new records', () => got.length === 3);
    expect(got).toEqual([1, 2, 3]);
    expect(await bus.committedOffsets('g', 't')).toEqual([{ partition: 0, offset: '-1' }]);
    await sub.stop();
  });

  it('resumes a group at its committed offset', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([1, 2, 3].map((v) => ({ topic: 't', key: 'a', value: v, ts: v })));
    await bus.commitOffsets('g', 't', [{ partition: 0, offset: '2' }]);
    expect(await bus.committedOffsets('g', 't')).toEqual([{ partition: 0, offset: '2' }]);
    const got: unknown[] = [];
    const sub = await bus.subscribe({ groupId: 'g', topics: ['t'], fromBeginning: true, onBatch: async (rs) => void got.push(...rs.map(decode)) });
    await until('the uncommitted record', () => got.length === 1);
    expect(got).toEqual([3]);
    await sub.stop();
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

  it('splits partitions between two members by range and gives all back when one leaves', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 'e', partitions: 5 }]);
    const assignments: Array<ReadonlyMap<string, readonly number[]>> = [];
    const onBatch = async (): Promise<void> => {};
    const a = await bus.subscribe({ groupId: 'g', topics: ['e'], fromBeginning: true, onBatch, onAssignment: (m) => void assignments.push(m) });
    const b = await bus.subscribe({ groupId: 'g', topics: ['e'], fromBeginning: true, onBatch });
    await until('both assigned', () => (b.assignment().get('e')?.length ?? 0) > 0);
    expect(a.assignment().get('e')).toEqual([0, 1, 2]);
    expect(b.assignment().get('e')).toEqual([3, 4]);
    await b.stop();
    await until('a owns everything', () => a.assignment().get('e')?.length === 5);
    await until('a was told', () => assignments.at(-1)?.get('e')?.length === 5);
    await a.stop();
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

  it('reports a failing batch through onCrash', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'a', value: 1, ts: 1 }]);
    const crashes: Error[] = [];
    await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      onBatch: async () => {
        throw new Error('boom');
      },
      onCrash: (e) => void crashes.push(e),
    });
    await until('crash', () => crashes.length === 1);
    expect(crashes[0].message).toBe('boom');
  });

  it('redelivers a batch whose handler failed with a retriable error', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'a', value: 1, ts: 1 }]);
    const attempts: string[] = [];
    const crashes: Error[] = [];
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      onBatch: async (rs) => {
        attempts.push(rs[0].offset);
        if (attempts.length < 3) throw new MonitorError('sink down', { code: ErrorCode.SINK_WRITE_FAILED, retriable: true });
      },
      onCrash: (e) => void crashes.push(e),
    });
    await until('third attempt', () => attempts.length === 3);
    expect(attempts).toEqual(['0', '0', '0']);
    expect(crashes).toEqual([]);
    await sub.stop();
  });

  it('forgets deleted topics', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 'a', partitions: 1 }, { topic: 'b', partitions: 1 }]);
    await bus.deleteTopics(['a']);
    expect(await bus.listTopics()).toEqual(['b']);
    const committed: TopicOffset[] = await bus.committedOffsets('g', 'b');
    expect(committed).toEqual([{ partition: 0, offset: '-1' }]);
  });
});
