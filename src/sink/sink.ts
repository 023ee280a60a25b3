/**
 * The Sink port (STYLE.md 3): idempotent time-series points. Point timestamps are event times, so a
 * redelivered point overwrites itself (ARCHITECTURE.md "InfluxDB contracts"). A null metric is an
 * omitted field. Adapters: InfluxSink (npm `influx`) and MemorySink.
 */
export interface Point {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Numbers only; booleans as 0/1; nulls are omitted before they get here. */
  readonly fields: Readonly<Record<string, number>>;
  /** Event time, ms UTC. */
  readonly ts: number;
}

export interface Sink {
  /** Creates the database, retention policy and rollup continuous queries (idempotent). */
  ensure(): Promise<void>;
  /** Writes points; resolves once they are durable. Retriable failures throw MonitorError(SINK_WRITE_FAILED, retriable: true). */
  write(points: readonly Point[]): Promise<void>;
  /** Deletes every series of a run (ccm runs delete). */
  deleteRun(run: string): Promise<void>;
  /** The runs present (distinct values of the `run` tag). */
  listRuns(): Promise<string[]>;
  /** What the sink holds of a run (`ccm runs list`); sinks that cannot say leave it out. */
  describeRun?(run: string): Promise<RunInfo>;
  /** Answers when the sink is reachable (health checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** A run as `ccm runs list` shows it. */
export interface RunInfo {
  /** Quotes processed (its `price` points). */
  readonly events: number;
  readonly firstMs: number | null;
  readonly lastMs: number | null;
  /** Its `alert` points. */
  readonly alerts: number;
  /** Points of every measurement (per measurement, the count of its most written field). */
  readonly points: number;
  /** When the replay that made it ended (its `run_info` point); null for live, the demo and runs from before. */
  readonly madeMs: number | null;
}
