import type { Point } from '../src/sink/sink.ts';
import { topicNames } from '../src/bus/topics.ts';
import { MEASUREMENT } from '../src/sink/measurements.ts';
import { generateBook, generateQuotes } from './book.ts';
import { CADENCE_MS, SOURCES_PER_INSTRUMENT, T0 } from './pipeline.ts';
import {
  benchLogger,
  consumerPerformance,
  createTopics,
  deleteTopics,
  endMachine,
  newBus,
  newSink,
  publishQuotes,
  rawInflux,
  rawKafkajs,
  serviceEnv,
  servicesMachine,
  uniqueName,
  type RawRate,
  type ServiceEnv,
  type ServicesMachine,
} from './support/harness.ts';

/**
 * The `limits` section: what the services give with no monitor in the way, at a larger N than the
 * pipeline's side-by-side measurement: `messages` generated quotes (the pipeline's quote stream,
 * same JSON and keys) on a 3-partition topic read by kafkajs with an empty eachBatch and by
 * Kafka's ConsumerPerformance, and one `price` point per quote written to InfluxDB as line
 * protocol in batches of 5,000 (the sink's batch size).
 */
export interface LimitsOptions {
  readonly messages?: number;
  readonly seed?: number;
  readonly env?: ServiceEnv;
  readonly log?: (line: string) => void;
}

export interface LimitsResult {
  readonly input: { readonly messages: number; readonly quotePartitions: number; readonly influxBatch: number; readonly seed: number };
  readonly kafkajs: RawRate & { readonly firstToLastMs: number };
  readonly consumerPerformance: RawRate & { readonly fetchPerSecond: number; readonly rebalanceMs: number };
  readonly influx: RawRate & { readonly batches: number };
  readonly machine: ServicesMachine;
}

export async function runLimits(opts: LimitsOptions = {}): Promise<LimitsResult> {
  const env = opts.env ?? serviceEnv('default');
  const log = opts.log ?? (() => undefined);
  const n = opts.messages ?? 200_000;
  const seed = opts.seed ?? 42;
  const machine = servicesMachine();
  const logger = benchLogger();
  const name = uniqueName('limits');
  const prefix = `${name}.`;
  const bus = newBus(env, logger);
  const sink = newSink(env, logger);
  try {
    const book = generateBook({ entities: 1_000, seed });
    const quotes = generateQuotes({ seed, count: n, startTs: T0, cadenceMs: CADENCE_MS, instruments: book.instruments, sourcesPerInstrument: SOURCES_PER_INSTRUMENT });
    await createTopics(bus, prefix, 3);
    const topic = topicNames(prefix).quotes;
    await publishQuotes(bus, topic, quotes);
    const kafkajs = await rawKafkajs(env, topic, n);
    log(`limits: kafkajs ${kafkajs.perSecond} messages/s`);
    const { csv: _csv, ...cp } = await consumerPerformance(env, topic, n);
    log(`limits: ConsumerPerformance ${cp.perSecond} messages/s`);
    await sink.ensure();
    const points: Point[] = quotes.map((q) => ({ measurement: MEASUREMENT.price, tags: { instrument: q.instrument, source: q.source, run: name }, fields: { value: q.price }, ts: q.ts }));
    const influx = await rawInflux(env, points, name);
    log(`limits: InfluxDB ${influx.perSecond} points/s`);
    return { input: { messages: n, quotePartitions: 3, influxBatch: 5000, seed }, kafkajs, consumerPerformance: cp, influx, machine: endMachine(machine) };
  } finally {
    await sink.deleteRun(name).catch(() => undefined);
    await sink.close();
    await deleteTopics(bus, prefix).catch(() => undefined);
    await bus.close();
  }
}
