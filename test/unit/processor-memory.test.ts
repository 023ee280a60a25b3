import { until as poll } from '../support/poll.ts';
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import type { Subscription } from '../../src/bus/bus.ts';
import type { Point } from '../../src/sink/sink.ts';
import { topicSpecs } from '../../src/bus/topics.ts';
import { MemorySink } from '../../src/sink/memory-sink.ts';
import { toPoints } from '../../src/sink/to-points.ts';
import { Processor, type ProcessorOptions } from '../../src/processor/processor.ts';
import type { AlertEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { book, fallingStreamProcessorOptions, params, quotes, T0, topics } from '../support/falling-stream.ts';
import { fold } from '../support/pipeline.ts';

/**
 * The runtime (loop, ownership, checkpoint, alert-state store, write path) on the in-memory bus and
 * sink: fast checks that a run and a restarted run equal the in-memory fold of `step`. The same
 * properties are checked on real Kafka and InfluxDB by the integration and fault tests.
 */

async function newBus(quotePartitions = 3): Promise<MemoryBus> {
  const bus = new MemoryBus({ maxBatchRecords: 300 });
  await bus.ensureTopics(topicSpecs('t.', { quotePartitions, entityPartitions: 2 }));
  await bus.publish(book.entities.map((e) => ({ topic: topics.entities, key: e.id, value: e, ts: T0 })));
  return bus;
}

const publishQuotes = (bus: MemoryBus, qs: readonly Quote[]) => bus.publish(qs.map((q) => ({ topic: topics.quotes, key: q.instrument, value: q, ts: q.ts })));

function processor(bus: MemoryBus, sink: MemorySink, over: Partial<ProcessorOptions> = {}): Processor {
  return new Processor(
    fallingStreamProcessorOptions(bus, sink, {
      // small chunks and slices, so that a run goes through many of them
      write: { chunkQuotes: 37, chunkOutputs: 60, maxInFlight: 2, slicePoints: 150, sliceRecords: 7 },
      ...over,
    }),
  );
}

/** What InfluxDB (here the memory sink) holds after the fold's outputs. */
function foldSink(outputs: readonly StepOutput[]): MemorySink {
  const s = new MemorySink();
  void s.write(outputs.flatMap((o) => toPoints(o, 'mem')));
  return s;
}

const byTimeThenId = (a: AlertEvent, b: AlertEvent) => a.at - b.at || a.eventId.localeCompare(b.eventId);

async function publishedAlerts(bus: MemoryBus): Promise<AlertEvent[]> {
  return (await bus.readToEnd(topics.alerts)).map((r) => {
    const { run: _r, v: _v, ...a } = JSON.parse(r.value?.toString('utf8') ?? '{}') as AlertEvent & { run: string; v: number };
    return a;
  });
}

const foldAlerts = (outputs: readonly StepOutput[]) => outputs.filter((o): o is Extract<StepOutput, { kind: 'alert' }> => o.kind === 'alert').map(({ kind: _k, ...a }) => a);

const until = (what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> => poll(what, cond, { timeoutMs });

describe('the processor on the in-memory bus', () => {
  it('writes the points and publishes the alert events of the in-memory fold', async () => {
    const bus = await newBus();
    const sink = new MemorySink();
    await publishQuotes(bus, quotes);
    const expected = fold(params, book.entities, await bus.readToEnd(topics.quotes));
    const p = processor(bus, sink, { untilEnd: true });
    await p.start();
    await p.done;
    await p.stop();
    expect(p.error).toBeNull();
    expect(sink.points()).toEqual(foldSink(expected).points());
    const alerts = foldAlerts(expected);
    expect(alerts.length).toBeGreaterThan(0);
    expect((await publishedAlerts(bus)).sort(byTimeThenId)).toEqual([...alerts].sort(byTimeThenId));
    expect(p.stats()).toEqual({ events: quotes.length, alerts: alerts.length });
  });

  it('two instances, each owning part of the book, run the same fire-sale cascade: together they write the fold, each contagion alert once', async () => {
    const bus = await newBus();
    const [sinkA, sinkB] = [new MemorySink(), new MemorySink()];
    await publishQuotes(bus, quotes);
    const expected = fold(params, book.entities, await bus.readToEnd(topics.quotes));
    const a = processor(bus, sinkA, { untilEnd: true, instanceId: 'p0' });
    const b = processor(bus, sinkB, { untilEnd: true, instanceId: 'p1' });
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.done, b.done]);
    await Promise.all([a.stop(), b.stop()]);
    expect([a.error, b.error]).toEqual([null, null]);
    const contagionAlerts = foldAlerts(expected).filter((x) => x.rule === 'contagion');
    expect(contagionAlerts.length, 'the generated book cascades as its prices fall').toBeGreaterThan(0);
    const published = await publishedAlerts(bus);
    expect(new Set(published.map((x) => x.eventId)).size).toBe(published.length);
    expect(published.filter((x) => x.rule === 'contagion').sort(byTimeThenId)).toEqual([...contagionAlerts].sort(byTimeThenId));
    // the book-level points from one instance only, every entity's from its owner: together, the fold's
    const contagionPoints = (s: MemorySink) => s.points().filter((p) => p.measurement.startsWith('contagion'));
    const both = new MemorySink();
    await both.write([...contagionPoints(sinkA), ...contagionPoints(sinkB)]);
    expect(both.points()).toEqual(contagionPoints(foldSink(expected)));
    expect([contagionPoints(sinkA), contagionPoints(sinkB)].filter((ps) => ps.some((p) => p.measurement === 'contagion_lender'))).toHaveLength(1);
    // and the book was really split: each instance wrote entities of its own
    for (const s of [sinkA, sinkB]) expect(s.points().filter((p) => p.measurement === 'contagion_entity').length).toBeGreaterThan(0);
  });

  it('takes over the entities of an instance killed with work unwritten: together the two write the fold, each alert once', async () => {
    // one quote partition: the stream is published in slices while the instances run, and the
    // order of application is then the topic's (the fold's) whatever the slices' timing
    const bus = await newBus(1);
    // a's sink stops answering at some point: a keeps stepping until its writes in flight fill up,
    // so it dies having processed quotes whose points it never wrote and whose offsets it never committed
    let frozen = false;
    const sinkA = new (class extends MemorySink {
      override write(points: readonly Point[]): Promise<void> {
        return frozen ? new Promise<void>(() => undefined) : super.write(points);
      }
    })();
    const sinkB = new MemorySink();
    const subsA: Subscription[] = [];
    const busA = Object.create(bus) as MemoryBus;
    busA.subscribe = async (o) => {
      const sub = await bus.subscribe(o);
      subsA.push(sub);
      return sub;
    };
    await publishQuotes(bus, quotes.slice(0, 1_500));
    const a = processor(busA, sinkA, { instanceId: 'p0' });
    const b = processor(bus, sinkB, { instanceId: 'p1' });
    await a.start();
    await b.start();
    const committedTo = async (group: string, n: number) => {
      const committed = await bus.committedOffsets(group, topics.quotes);
      return committed.reduce((sum, c) => sum + Math.max(0, Number(c.offset)), 0) >= n;
    };
    await until('both instances committed the first 1,500 quotes', async () => (await committedTo(a.quoteGroupId, 1_500)) && (await committedTo(b.quoteGroupId, 1_500)));
    const owned = async (p: Processor) => (await p.metrics.entitiesOwned.get()).values[0]?.value ?? 0;
    const ownedByA = await owned(a);
    expect(ownedByA).toBeGreaterThan(0);
    frozen = true;
    const steppedBefore = a.stats().events;
    await publishQuotes(bus, quotes.slice(1_500, 2_500));
    await until('a stepped quotes it cannot write', async () => a.stats().events > steppedBefore + 50 && (await committedTo(b.quoteGroupId, 2_500)));
    expect(await committedTo(a.quoteGroupId, 2_500)).toBe(false);
    // SIGKILL: a's members leave its groups at once; it hands nothing over and writes nothing more
    const zombie = a as unknown as { stopping: boolean; timers: NodeJS.Timeout[] };
    zombie.stopping = true;
    zombie.timers.forEach((t) => clearInterval(t));
    for (const sub of subsA) bus.expel(sub);
    await until('b owns the whole book', async () => (await owned(b)) === book.entities.length);
    await publishQuotes(bus, quotes.slice(2_500));
    await b.finishWhenReached(await bus.endOffsets(topics.quotes));
    await b.done;
    await b.stop();
    expect(b.error).toBeNull();

    const expected = fold(params, book.entities, await bus.readToEnd(topics.quotes));
    const both = new MemorySink();
    await both.write([...sinkA.points(), ...sinkB.points()]);
    // (without the takeover's replay: 533 points missing, 29 extra, 6 alerts fired again with other eventIds)
    expect(both.points()).toEqual(foldSink(expected).points());
    const published = await publishedAlerts(bus);
    const once = [...new Map(published.map((x) => [x.eventId, x])).values()];
    expect(once.sort(byTimeThenId)).toEqual(foldAlerts(expected).sort(byTimeThenId));
  });

  it('resumes after a stop from its checkpoint: rebuilt and restored, it fires nothing twice and misses nothing', async () => {
    const bus = await newBus();
    const sink = new MemorySink();
    const half = 2_000;
    await publishQuotes(bus, quotes.slice(0, half));
    const first = processor(bus, sink);
    await first.start();
    const group = first.quoteGroupId;
    const committedAll = async () => {
      const end = await bus.endOffsets(topics.quotes);
      const committed = await bus.committedOffsets(group, topics.quotes);
      return end.every((e) => committed.find((c) => c.partition === e.partition)?.offset === e.offset);
    };
    await until('the first half committed', committedAll);
    await first.stop();
    expect(first.error).toBeNull();

    await publishQuotes(bus, quotes.slice(half));
    const second = processor(bus, sink, { untilEnd: true });
    await second.start();
    await second.done;
    await second.stop();
    expect(second.error).toBeNull();

    const expected = fold(params, book.entities, await bus.readToEnd(topics.quotes));
    expect(sink.points()).toEqual(foldSink(expected).points());
    expect((await publishedAlerts(bus)).sort(byTimeThenId)).toEqual(foldAlerts(expected).sort(byTimeThenId));
  });

  it('dead-letters a quote that does not decode and commits past it', async () => {
    const bus = await newBus();
    const sink = new MemorySink();
    await publishQuotes(bus, quotes.slice(0, 200));
    await bus.publishRaw([{ topic: topics.quotes, key: 'BTC', value: 'not json', ts: quotes[199].ts, partition: 0 }]);
    await publishQuotes(bus, quotes.slice(200, 400));
    const p = processor(bus, sink, { untilEnd: true });
    await p.start();
    await p.done;
    await p.stop();
    const dead = await bus.readToEnd(topics.deadletter);
    expect(dead.map((r) => (JSON.parse(r.value?.toString('utf8') ?? '{}') as { reason: string; stage: string })).map((d) => [d.reason, d.stage])).toEqual([['not JSON', 'quotes']]);
    expect(sink.points('deadletter')).toHaveLength(1);
    const end = await bus.endOffsets(topics.quotes);
    expect(await bus.committedOffsets(p.quoteGroupId, topics.quotes)).toEqual(end);
  });
});
