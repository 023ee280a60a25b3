import { pino } from 'pino';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { ProduceRecord } from '../../src/bus/bus.ts';
import { startPacedPublisher } from '../../src/replay/paced-publisher.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import { generateQuotes } from '../book.ts';

/**
 * A producer at a fixed offered load, in its own process so that the processor's work never
 * delays it (node is one thread): `tsx bench/support/paced-producer.ts <json options>`.
 * The project's one paced publisher (src/replay/paced-publisher.ts) at speed 1: quote k is due
 * k x 1000/rate ms after the start, and looked for every 10 ms at 100 quotes/s and more (below,
 * every 1000/rate ms). Each is stamped with the wall clock as it is sent (event time = produce
 * time, so a latency is an acknowledgement time minus the quote's ts). Prices follow
 * generateQuotes; BTC alternates between its level and half of it every `swingMs`, so that LTV
 * alerts keep firing. Prints `{"produced":N,"ms":T,"t0":start}` on stdout at the end (`t0`: the
 * wall clock of quote 0's due time).
 */
interface Options {
  readonly brokers: string[];
  readonly topic: string;
  readonly rate: number;
  readonly seconds: number;
  readonly seed: number;
  readonly instruments: string[];
  readonly swingMs: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const logger = pino({ level: 'warn' }, pino.destination(2));
const bus = new KafkaBus({ brokers: o.brokers, clientId: 'ccm-bench-producer', logger });
const total = o.rate * o.seconds;
const quotes = generateQuotes({ seed: o.seed, count: total, startTs: 0, cadenceMs: 1, instruments: o.instruments, sourcesPerInstrument: 3 });
const tickMs = o.rate >= 100 ? 10 : Math.round(1000 / o.rate);
await bus.publish([]);
const t0 = Date.now();
const stamp = (r: ProduceRecord, now: number): ProduceRecord => {
  const q = r.value as Quote;
  const low = Math.floor((now - t0) / o.swingMs) % 2 === 1;
  const price = q.instrument === 'BTC' && low ? q.price * 0.5 : q.price;
  return { ...r, ts: now, value: { ...q, price, ts: now, receivedAt: now } };
};
const { published } = await startPacedPublisher({
  bus,
  topic: o.topic,
  records: quotes.map((q, k) => ({ topic: o.topic, key: q.instrument, ts: (k * 1000) / o.rate, value: q })),
  speed: 1,
  originTs: 0,
  tickMs,
  stamp,
}).done;
const ms = Date.now() - t0;
await bus.close();
process.stdout.write(`${JSON.stringify({ produced: published, ms, t0 })}\n`);
