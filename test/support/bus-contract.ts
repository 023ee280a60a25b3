import { describe, expect, it } from 'vitest';
import type { Bus, ConsumedRecord, RawPublisher } from '../../src/bus/bus.ts';
import { ErrorCode, MonitorError } from '../../src/domain/errors.ts';
import { partitionForKey } from '../../src/bus/murmur2.ts';

/**
 * The Bus port's contract (src/bus/bus.ts), run against both adapters: MemoryBus in the unit tier
 * (test/unit/memory-bus.test.ts), KafkaBus on the real Kafka in the integration tier
 * (test/integration/kafka-bus.test.ts). What a caller of the port may rely on, whichever adapter
 * the wiring hands it.
 */
export interface BusUnderTest {
  readonly bus: Bus & RawPublisher;
  /** A new topic of its own with this many partitions (kept forever). */
  topic(name: string, partitions: number): Promise<string>;
  /** A group id nobody used. */
  group(name: string): string;
  /** Upper bound of the waits for asynchronous deliveries and rebalances. */
  readonly boundMs: number;
}

const decode = (r: ConsumedRecord): unknown => (r.value === null ? null : JSON.parse(r.value.toString('utf8')));
const TS = Date.UTC(2022, 0, 3, 12);

export function busContract(name: string, setup: () => BusUnderTest | Promise<BusUnderTest>): void {
  /** Polls until `check` holds (deliveries and rebalances are asynchronous); fails after the adapter's bound. */
  async function until(t: BusUnderTest, what: string, check: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + t.boundMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`never happened within ${t.boundMs} ms: ${what}`);
  }

  describe(`${name} keeps the Bus contract`, () => {
    it('reads back published records on their key partitions, offsets from 0, event times as timestamps, tombstones and raw bytes', async () => {
      const t = await setup();
      const topic = await t.topic('roundtrip', 3);
      await t.bus.publish([
        { topic, key: 'BTC', value: { price: 1 }, ts: TS },
        { topic, key: 'BTC', value: { price: 2 }, ts: TS + 1000 },
        { topic, key: 'gone', value: null, ts: TS + 2000 },
      ]);
      await t.bus.publishRaw([{ topic, key: 'raw', value: Buffer.from('not json'), ts: TS + 3000 }]);
      const all = await t.bus.readToEnd(topic);
      expect(all).toHaveLength(4);
      expect(all.filter((r) => r.key === 'BTC').map((r) => [r.partition, r.offset, r.ts, decode(r)])).toEqual([
        [partitionForKey('BTC', 3), '0', TS, { price: 1 }],
        [partitionForKey('BTC', 3), '1', TS + 1000, { price: 2 }],
      ]);
      expect(all.find((r) => r.key === 'gone')?.value).toBeNull();
      expect(all.find((r) => r.key === 'raw')?.value?.toString()).toBe('not json');
      expect(await t.bus.partitionCount(topic)).toBe(3);
      const ends = await t.bus.endOffsets(topic);
      expect(ends.map((e) => e.partition)).toEqual([0, 1, 2]);
      expect(ends.reduce((s, e) => s + Number(e.offset), 0)).toBe(4);
    });

    it('reads only the partitions and offset range asked for', async () => {
      const t = await setup();
      const topic = await t.topic('range', 2);
      await t.bus.publishRaw([0, 1, 2, 3].map((i) => ({ topic, key: null, value: `v${i}`, ts: TS + i, partition: 0 })));
      await t.bus.publishRaw([{ topic, key: null, value: 'other', ts: TS + 9, partition: 1 }]);
      const part = await t.bus.readToEnd(topic, { partitions: [0], from: [{ partition: 0, offset: '1' }], to: [{ partition: 0, offset: '3' }] });
      expect(part.map((r) => r.value?.toString())).toEqual(['v1', 'v2']);
      expect((await t.bus.readToEnd(topic, { partitions: [1] })).map((r) => r.value?.toString())).toEqual(['other']);
    });

    it('finds the first offset at or after a time on every partition, and the end where there is none', async () => {
      const t = await setup();
      const topic = await t.topic('bytime', 2);
      await t.bus.publish([0, 1, 2].map((i) => ({ topic, key: null, value: i, ts: TS + i * 60_000, partition: 0 })));
      await t.bus.publish([{ topic, key: null, value: 'late', ts: TS + 10 * 60_000, partition: 1 }]);
      expect(await t.bus.offsetsForTimestamp(topic, TS + 90_000)).toEqual([
        { partition: 0, offset: '2' },
        { partition: 1, offset: '0' },
      ]);
      expect(await t.bus.offsetsForTimestamp(topic, TS + 11 * 60_000)).toEqual([
        { partition: 0, offset: '3' },
        { partition: 1, offset: '1' },
      ]);
    });

    it('delivers existing and newly published records in offset order, and commits only what the caller commits', async () => {
      const t = await setup();
      const topic = await t.topic('deliver', 1);
      const groupId = t.group('deliver');
      await t.bus.publish([{ topic, key: 'a', value: 1, ts: TS + 1 }]);
      const got: unknown[] = [];
      const sub = await t.bus.subscribe({ groupId, topics: [topic], fromBeginning: true, onBatch: async (rs) => void got.push(...rs.map(decode)) });
      await until(t, 'the record published before subscribing', () => got.length === 1);
      await t.bus.publish([2, 3].map((v) => ({ topic, key: 'a', value: v, ts: TS + v })));
      await until(t, 'the records published after', () => got.length === 3);
      expect(got).toEqual([1, 2, 3]);
      expect(await t.bus.committedOffsets(groupId, topic)).toEqual([{ partition: 0, offset: '-1' }]);
      await t.bus.commitOffsets(groupId, topic, [{ partition: 0, offset: '3' }]);
      expect(await t.bus.committedOffsets(groupId, topic)).toEqual([{ partition: 0, offset: '3' }]);
      await sub.stop();
    });

    it('resumes a group at its committed offset, committed without a member', async () => {
      const t = await setup();
      const topic = await t.topic('resume', 1);
      const groupId = t.group('resume');
      await t.bus.publish([1, 2, 3].map((v) => ({ topic, key: 'a', value: v, ts: TS + v })));
      await t.bus.commitOffsets(groupId, topic, [{ partition: 0, offset: '2' }]);
      const got: unknown[] = [];
      const sub = await t.bus.subscribe({ groupId, topics: [topic], fromBeginning: true, onBatch: async (rs) => void got.push(...rs.map(decode)) });
      await until(t, 'the uncommitted record', () => got.length === 1);
      expect(got).toEqual([3]);
      await sub.stop();
    });

    it('splits the partitions between two members by range and gives all back when one leaves', async () => {
      const t = await setup();
      const topic = await t.topic('split', 5);
      const groupId = t.group('split');
      const told: Array<ReadonlyMap<string, readonly number[]>> = [];
      const onBatch = async (): Promise<void> => {};
      const a = await t.bus.subscribe({ groupId, topics: [topic], fromBeginning: true, onBatch, onAssignment: (m) => void told.push(m) });
      await until(t, 'a owns everything', () => a.assignment().get(topic)?.length === 5);
      const b = await t.bus.subscribe({ groupId, topics: [topic], fromBeginning: true, onBatch });
      await until(t, 'both assigned', () => (b.assignment().get(topic)?.length ?? 0) > 0 && (a.assignment().get(topic)?.length ?? 0) < 5);
      expect([a.assignment().get(topic), b.assignment().get(topic)].map((p) => p?.length).sort()).toEqual([2, 3]);
      expect([...(a.assignment().get(topic) ?? []), ...(b.assignment().get(topic) ?? [])].sort()).toEqual([0, 1, 2, 3, 4]);
      await b.stop();
      await until(t, 'a owns everything again', () => a.assignment().get(topic)?.length === 5);
      await until(t, 'a was told', () => told.at(-1)?.get(topic)?.length === 5);
      await a.stop();
    });

    it('reports a batch handler failing for good through onCrash, and commits nothing', async () => {
      const t = await setup();
      const topic = await t.topic('crash', 1);
      const groupId = t.group('crash');
      await t.bus.publish([{ topic, key: 'a', value: 1, ts: TS }]);
      const crashes: Error[] = [];
      const sub = await t.bus.subscribe({
        groupId,
        topics: [topic],
        fromBeginning: true,
        onBatch: async () => {
          throw new Error('boom');
        },
        onCrash: (e) => void crashes.push(e),
      });
      await until(t, 'the crash', () => crashes.length === 1);
      expect(crashes[0].message).toBe('boom');
      expect(await t.bus.committedOffsets(groupId, topic)).toEqual([{ partition: 0, offset: '-1' }]);
      await sub.stop();
    });

    it('delivers a batch again when its handler failed with a retriable error', async () => {
      const t = await setup();
      const topic = await t.topic('retry', 1);
      await t.bus.publish([{ topic, key: 'a', value: 1, ts: TS }]);
      const attempts: string[] = [];
      const crashes: Error[] = [];
      const sub = await t.bus.subscribe({
        groupId: t.group('retry'),
        topics: [topic],
        fromBeginning: true,
        onBatch: async (rs) => {
          attempts.push(rs[0].offset);
          if (attempts.length < 3) throw new MonitorError('sink down', { code: ErrorCode.SINK_WRITE_FAILED, retriable: true });
        },
        onCrash: (e) => void crashes.push(e),
      });
      await until(t, 'the third attempt', () => attempts.length === 3);
      expect(attempts).toEqual(['0', '0', '0']);
      expect(crashes).toEqual([]);
      await sub.stop();
    });

    it('lists its topics and forgets the deleted ones', async () => {
      const t = await setup();
      const kept = await t.topic('kept', 1);
      const doomed = await t.topic('doomed', 1);
      expect(await t.bus.listTopics()).toEqual(expect.arrayContaining([kept, doomed]));
      await t.bus.deleteTopics([doomed]);
      await until(t, 'the topic gone', async () => !(await t.bus.listTopics()).includes(doomed));
      expect(await t.bus.listTopics()).toContain(kept);
    });
  });
}
