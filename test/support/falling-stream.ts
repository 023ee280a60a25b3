import { pino } from 'pino';
import { Writable } from 'node:stream';
import { topicNames } from '../../src/bus/topics.ts';
import type { Bus } from '../../src/bus/bus.ts';
import type { Sink } from '../../src/sink/sink.ts';
import type { ProcessorOptions } from '../../src/processor/processor.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { generateBook, generateQuotes, loadCatalog } from '../../bench/book.ts';

/**
 * The in-memory processor tests' book and stream: 30 entities, 4,000 quotes 200 ms of event time
 * apart (about 13 one-minute windows), every price falling steadily by up to 40% so that LTV lines
 * are really crossed (a run's first evaluation only sets the alert machine's baseline).
 */
export const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
export const T0 = Date.parse('2025-10-01T00:00:00Z');
export const params = { ...defaultDomainParams(loadCatalog()), emitIntervalMs: 60_000 };
export const book = generateBook({ entities: 30, seed: 7 });
export const quotes = generateQuotes({ seed: 7, count: 4_000, startTs: T0, cadenceMs: 200, instruments: book.instruments, sourcesPerInstrument: 3 }).map((q, k, all) => ({
  ...q,
  price: Number((q.price * (1 - (0.4 * k) / all.length)).toPrecision(8)),
}));
const names = topicNames('t.');
export const topics = { quotes: names.quotes, entities: names.entities, valuations: names.valuations, alerts: names.alerts, alertState: names.alertState, deadletter: names.deadletter };

/** The options of the in-memory processor these tests run over the book (one instance, from the earliest quote), with `over` on top. */
export function fallingStreamProcessorOptions(bus: Bus, sink: Sink, over: Partial<ProcessorOptions> = {}): ProcessorOptions {
  return {
    bus,
    sink,
    logger: silent,
    params,
    topics,
    run: 'mem',
    groupId: 'g',
    instanceId: 'p0',
    lookbackMs: 2 * 24 * 3600_000,
    maxLatenessMs: 2_000,
    startFrom: 'earliest',
    ...over,
  };
}
