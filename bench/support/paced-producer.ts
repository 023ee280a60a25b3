import { pino } from 'pino';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { generateQuotes } from '../book.ts';

/**
 * A producer at a fixed offered load, in its own process so that the processor's work never
 * delays it (node is one thread): `tsx bench/support/paced-producer.ts <json options>`.
 * Every 10 ms it sends rate/100 quotes (below 100/s, one every 1000/rate ms) stamped with the wall clock (event time = produce time, so
 * a latency is an acknowledgement time minus the quote's ts). Prices follow generateQuotes; BTC
 * alternates between its level and half of it every `swingMs`, so that LTV alerts keep firing.
 * Prints `{"produced":N,"ms":T}` on stdout at the end.
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
// every 10 ms at 100 quotes/s and more; below, one quote every 1000/rate ms
const TICK_MS = o.rate >= 100 ? 10 : Math.round(1000 / o.rate);
const perTick = Math.max(1, Math.round((o.rate * TICK_MS) / 1000));
await bus.publish([]);
const t0 = Date.now();
let produced = 0;
for (let tick = 0; produced < total; tick++) {
  const due = t0 + tick * TICK_MS;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const now = Date.now();
  const low = Math.floor((now - t0) / o.swingMs) % 2 === 1;
  const batch = quotes.slice(produced, produced + perTick).map((q) => {
    const price = q.instrument === 'BTC' && low ? q.price * 0.5 : q.price;
    return { topic: o.topic, key: q.instrument, ts: now, value: { ...q, price, ts: now, receivedAt: now } };
  });
  await bus.publish(batch);
  produced += batch.length;
}
const ms = Date.now() - t0;
await bus.close();
process.stdout.write(`${JSON.stringify({ produced, ms })}\n`);
