/** What others may use of the sink (STYLE.md 15): the port, its adapters, the schema names, the mapper. */
export type { Point, Sink } from './sink.ts';
export { InfluxSink, ROLLUP_RETENTION_POLICY, ROLLUP_INTERVALS, type InfluxSinkOptions } from './influx-sink.ts';
export { MemorySink, seriesKey } from './memory-sink.ts';
export { FIELD, MEASUREMENT, NO_TAG_VALUE, TAG, type Measurement } from './measurements.ts';
export { toPoints } from './to-points.ts';
