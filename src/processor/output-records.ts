import type { ConsumedRecord, ProduceRecord } from '../bus/bus.ts';
import type { Point } from '../sink/sink.ts';
import type { StepOutput } from '../domain/step/step-types.ts';
import { FIELD, MEASUREMENT, TAG } from '../sink/measurements.ts';
import { alertStateRecord } from './alert-state-store.ts';
import { deadLetterRaw, deadLetterSource } from './decode.ts';
import type { ProcessorTopics } from './processor-options.ts';
import { QUOTE_LIMITS } from '../domain/market/quote-limits.ts';

/**
 * What the processor writes besides points (docs/architecture.md, Kafka topics): the output
 * record of each `step` output, and the dead letter of an input record nobody can read. Output
 * values carry `v: 1`, the run and the output's deterministic eventId, so a consumer drops a
 * redelivered copy. Topic names come from the processor's topics (src/bus/topics.ts), measurement,
 * tag and field names from src/sink/measurements.ts.
 */
export const OUTPUT_VERSION = 1;

/** Where an undecodable record was read: the dead letter's `stage`. */
export const DEAD_LETTER_STAGE = { quotes: 'quotes', entities: 'entities', alertState: 'alert-state', sink: 'sink' } as const;
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
    /** The wall clock a dead-letter record is stamped with. */
    private readonly now: () => number = Date.now,
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
      case 'contagion_entity':
      case 'contagion_book':
        return null;
      default: {
        const never: never = out;
        return never;
      }
    }
  }

  /**
   * The dead letter of a record that does not decode: its raw value (cut to a size Kafka takes,
   * `rawChars` its length then), why, and where it was read. Its key and `source` tag are the
   * record's source only when that is a short printable name (a 70,000-character one is a series
   * key InfluxDB refuses).
   */
  deadLetter(r: ConsumedRecord, reason: string, stage: DeadLetterStage): DeadLetter {
    const cut = deadLetterRaw(r.value);
    const source = sourceOf(r.value?.toString('utf8') ?? null);
    const reasonCode = reason.split(':')[0];
    const value = { ...cut, reason, source, ts: r.ts, topic: r.topic, partition: r.partition, offset: r.offset, stage };
    return this.letter(value, source, reasonCode, r.ts);
  }

  /**
   * The dead letter of a point the sink refused (InfluxDB's 400/413/422 for that point alone): the
   * point as `raw` JSON, InfluxDB's answer as the reason, stage `sink`.
   */
  refusedPoint(point: Point, reason: string): DeadLetter {
    const cut = deadLetterRaw(Buffer.from(JSON.stringify(point)));
    const source = deadLetterSource(point.tags[TAG.source], UNKNOWN_SOURCE);
    const value = { ...cut, reason: `refused: ${reason}`, source, ts: point.ts, measurement: point.measurement, stage: DEAD_LETTER_STAGE.sink };
    return this.letter(value, source, 'refused', point.ts);
  }

  private letter(value: Record<string, unknown>, source: string, reasonCode: string, ts: number): DeadLetter {
    // the count point is stamped within the bounds InfluxDB takes: a poison record's own time (year 9999) is clamped
    const at = Math.min(Math.max(ts, QUOTE_LIMITS.minTsMs), QUOTE_LIMITS.maxTsMs - 1);
    return {
      // the record is stamped when it is dead-lettered: the topic's retention (30 days) counts from
      // then, not from a replayed record's event time (which would expire it at once); `value.ts` keeps that
      record: { topic: this.topics.deadletter, key: source, value, ts: this.now() },
      point: { measurement: MEASUREMENT.deadletter, tags: { [TAG.source]: source, [TAG.reason]: reasonCode, [TAG.run]: this.run }, fields: { [FIELD.count]: 1 }, ts: at },
      reasonCode,
    };
  }
}

/** The `source` a record's JSON names, if any. */
function sourceOf(raw: string | null): string {
  try {
    const o = JSON.parse(raw ?? 'null') as { source?: unknown } | null;
    if (o && typeof o === 'object' && 'source' in o) return deadLetterSource(o.source, UNKNOWN_SOURCE);
  } catch {
    // not JSON: the source stays unknown
  }
  return UNKNOWN_SOURCE;
}
