import { ContagionStage } from '../../src/processor/contagion-stage.ts';
import { flushWithCascade, stepWithCascade } from '../../src/processor/cascade.ts';
import { pino } from 'pino';
import { compareEventOrder } from '../../src/bus/event-order.ts';
import { KafkaBus } from '../../src/bus/kafka-bus.ts';
import { topicNames, topicSpecs } from '../../src/bus/topics.ts';
import { InfluxSink } from '../../src/sink/influx-sink.ts';
import { toPoints } from '../../src/sink/to-points.ts';
import { Processor, type ProcessorTopics } from '../../src/processor/processor.ts';
import { initialState, step } from '../../src/domain/step/step.ts';
import { decodeQuote } from '../../src/processor/decode.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import type { Entity } from '../../src/domain/sheet/sheet.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import type { ConsumedRecord } from '../../src/bus/bus.ts';
import type { Logger } from '../../src/logger.ts';
import { TAG } from '../../src/sink/measurements.ts';
import type { ServiceEnv } from './services.ts';

/** Wiring of the real adapters for integration tests, and the in-memory fold they are compared with. */
export const quietLogger = (): Logger => pino({ level: process.env.CCM_TEST_LOG_LEVEL ?? 'warn' }, pino.destination(2));

export function kafkaBus(env: ServiceEnv, logger = quietLogger()): KafkaBus {
  return new KafkaBus({ brokers: env.kafkaBrokers, clientId: 'ccm-test', logger, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
}

export function influxSink(env: ServiceEnv, logger = quietLogger()): InfluxSink {
  return new InfluxSink({ url: env.influxUrl, username: env.influxUser, password: env.influxPassword, database: env.influxDb, logger });
}

export function processorTopics(prefix: string): ProcessorTopics {
  const t = topicNames(prefix);
  return { quotes: t.quotes, entities: t.entities, valuations: t.valuations, alerts: t.alerts, alertState: t.alertState, deadletter: t.deadletter };
}

/**
 * The topics of a test prefix. Test streams are stamped in 2025 and the test broker checks
 * retention every few seconds, so the quotes topic keeps its records (a live topic keeps 30 days).
 */
export async function createTopics(bus: KafkaBus, prefix: string, quotePartitions = 3): Promise<void> {
  await bus.ensureTopics(topicSpecs(prefix, { quotePartitions, entityPartitions: 2, quotesRetentionMs: 100 * 365 * 86_400_000 }));
}

export interface RunOptions {
  readonly bus: KafkaBus;
  readonly sink: InfluxSink;
  readonly prefix: string;
  readonly run: string;
  readonly params: DomainParams;
  readonly groupId: string;
  readonly instanceId?: string;
  readonly untilEnd?: boolean;
  readonly logger?: Logger;
  readonly onOutputs?: (o: readonly StepOutput[]) => void;
}

export function newProcessor(o: RunOptions): Processor {
  return new Processor({
    bus: o.bus,
    sink: o.sink,
    logger: o.logger ?? quietLogger(),
    params: o.params,
    topics: processorTopics(o.prefix),
    run: o.run,
    groupId: o.groupId,
    instanceId: o.instanceId ?? 'p0',
    lookbackMs: 2 * 24 * 3600_000,
    maxLatenessMs: 2000,
    startFrom: 'earliest',
    untilEnd: o.untilEnd ?? true,
    onOutputs: o.onOutputs,
    sessionTimeoutMs: 6000,
  });
}

/** Runs a processor over everything on the topics now, until the end. */
export async function runToEnd(o: RunOptions): Promise<Processor> {
  const p = newProcessor(o);
  await p.start();
  await p.done;
  await p.stop();
  if (p.error) throw p.error;
  return p;
}

/**
 * The acceptance reference (ARCHITECTURE.md rule 6): fold `step` over the same input sorted in
 * memory, entities first (sorted by id), quotes by (ts, partition, offset), then flush.
 */
export function fold(params: DomainParams, entities: readonly Entity[], quoteRecords: readonly ConsumedRecord[], options: { readonly flush?: boolean; readonly contagion?: boolean } = {}): StepOutput[] {
  let state = initialState(params);
  const outputs: StepOutput[] = [];
  // the processor's book-level stage, as one instance holding the whole book runs it (contagion-stage.ts)
  const stage = options.contagion === false ? null : new ContagionStage({ params, owns: () => true, writesBook: () => true });
  for (const e of [...entities].sort((a, b) => a.id.localeCompare(b.id))) {
    stage?.setEntity(e.id, e, { initial: true });
    const r = step(state, { kind: 'entity', id: e.id, entity: e, ts: 0 }, params);
    state = r.state;
    outputs.push(...r.outputs);
  }
  const sorted = [...quoteRecords].sort(compareEventOrder);
  for (const rec of sorted) {
    const d = decodeQuote(rec);
    if (!d.ok) continue;
    const r = stepWithCascade(state, { kind: 'quote', quote: d.value }, params, stage);
    state = r.state;
    outputs.push(...r.outputs);
  }
  // a live run without an end (no --until-end) leaves its last window open: `flush: false`
  if (options.flush === false) return outputs;
  const f = flushWithCascade(state, params, stage);
  outputs.push(...f.outputs);
  return outputs;
}

/** Tag keys per measurement, in the order `readRun` keys series by. */
export const TAG_KEYS: Readonly<Record<string, readonly string[]>> = {
  price: [TAG.instrument, TAG.source],
  index: [TAG.instrument],
  valuation: [TAG.entity, TAG.type],
  facility: [TAG.entity, TAG.facility, TAG.lender],
  item: [TAG.entity, TAG.item, TAG.model, TAG.valuedBy],
  stress: [TAG.entity],
  alert: [TAG.entity, TAG.facility, TAG.rule, TAG.to],
  exposure: [TAG.entity, TAG.model],
};

/** What InfluxDB holds after writing these outputs: same series and timestamp merge their fields. */
export function expectedSeries(outputs: readonly StepOutput[], run: string, measurements: readonly string[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const o of outputs) {
    for (const p of toPoints(o, run)) {
      if (!measurements.includes(p.measurement)) continue;
      const key = `${p.measurement}|${(TAG_KEYS[p.measurement] ?? []).map((k) => `${k}=${p.tags[k] ?? ''}`).join(',')}|${p.ts}`;
      out.set(key, { ...(out.get(key) ?? {}), ...p.fields });
    }
  }
  return out;
}
