import type { ConsumedRecord, ProduceRecord } from '../bus/bus.ts';
import type { Point } from '../sink/sink.ts';
import type { StepOutput } from '../domain/step/step-types.ts';
import { FIELD, MEASUREMENT, TAG } from '../sink/measurements.ts';
import { alertStateRecord } from './alert-state-store.ts';
import type { ProcessorTopics } from './processor-options.ts';

/**
 * What the processor writes besides points (docs/architecture.md, Kafka topics): the output
 * record of each `step` output, and the dead letter of an input record nobody can read. Output
 * values carry `v: 1`, the run and the output's deterministic eventId, so a consumer drops a
 * redelivered copy. Topic names come from the processor's topics (src/bus/topics.ts), measurement,
 * tag and field names from src/sink/measurements.ts.
 */
export const OUTPUT_VERSION = 1;

/** Where an undecodable record was read: the dead letter's `stage`. */
export const DEAD_LETTER_STAGE = { quotes: 'quotes', entities: 'entities' } as const;
export type DeadLetterStage = (typeof DEAD_LETTER_STAGE)[keyof typeof DEAD_LETTER_STAGE];

/** The dead letter's `source` (and key) when the record names none. */
export const UNKNOWN_SOURCE = 'unknown';

/**
 * The outputs written on the write pipeline's alert lanes: alerts (their points and records) and
 * index changes. A quote's alert then reaches InfluxDB, Kafka and the webhooks while a window
 * close's valuation points are still being written.
 */
export function isAlertLaneOutput(out: StepOutput): boolean {
  return out.kind === 'alert' || out.kind === 'index';
}

export interface DeadLetter {
  readonly record: ProduceRecord;
  readonly point: Point;
  /** The reason's first word (`schema`, `not JSON`...): the metric label and the point's tag. */
  readonly reasonCode: string;
}

export class OutputRecords {
  constructor(
    private readonly topics: ProcessorTopics,
    private readonly run: string,
  ) {}

  /** The record of an output on its topic, or null for outputs that are points only. */
  of(out: StepOutput): ProduceRecord | null {
    const { topics, run } = this;
    switch (out.kind) {
      case 'valuation':
        return { topic: topics.valuations, key: out.valuation.entity, ts: out.ts, value: { v: OUTPUT_VERSION, run, eventId: out.eventId, ts: out.ts, inputs: out.inputs, ...out.valuation } };
      case 'alert': {
        const { kind: _kind, ...alert } = out;
        return { topic: topics.alerts, key: out.entity, ts: out.at, value: { v: OUTPUT_VERSION, run, ...alert } };
      }
      case 'alert_state':
        return alertStateRecord(topics.alertState, run, out, out.ts);
      case 'price':
      case 'index':
      case 'data_quality':
      case 'exposure':
      case 'spread':
        return null;
      default: {
        const never: never = out;
        return never;
      }
    }
  }

  /** The dead letter of a record that does not decode: its raw value, why, and where it was read. */
  deadLetter(r: ConsumedRecord, reason: string, stage: DeadLetterStage): DeadLetter {
    const raw = r.value?.toString('utf8') ?? null;
    const source = sourceOf(raw);
    const reasonCode = reason.split(':')[0];
    const value = { raw, reason, source, ts: r.ts, topic: r.topic, partition: r.partition, offset: r.offset, stage };
    return {
      record: { topic: this.topics.deadletter, key: source, value, ts: r.ts },
      point: { measurement: MEASUREMENT.deadletter, tags: { [TAG.source]: source, [TAG.reason]: reasonCode, [TAG.run]: this.run }, fields: { [FIELD.count]: 1 }, ts: r.ts },
      reasonCode,
    };
  }
}

/** The `source` a record's JSON names, if any. */
function sourceOf(raw: string | null): string {
  try {
    const o = JSON.parse(raw ?? 'null') as { source?: unknown } | null;
    if (o && typeof o.source === 'string') return o.source;
  } catch {
    // not JSON: the source stays unknown
  }
  return UNKNOWN_SOURCE;
}
