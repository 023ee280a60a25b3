import type { ConsumedRecord, LogReader, ProduceRecord } from '../bus/bus.ts';
import { decodeAlertState } from './decode.ts';
import type { AlertStateRecord } from '../domain/step/step-types.ts';
import { entityOfAlertKey } from '../domain/alerts/alert-key.ts';
import { isWindowClosed } from '../domain/window.ts';

/**
 * The `alert-state` topic as this runtime writes and reads it (docs/architecture.md, Kafka topics;
 * docs/processor.md, "Checkpoints and restart" and "Rebalance handover"). Compacted; keyed
 * `<run>/<alert key>` so that live, the demo and replays share it without restoring each other's
 * statuses. Two kinds of records:
 *
 * - window-close records: an `alert_state` output of `step`, stamped with the start of the window
 *   whose close emitted it;
 * - handover records: the statuses an instance held when it gave entities up (a rebalance,
 *   SIGTERM), stamped with its clock and carrying it as `asOf`.
 *
 * Reading returns records; deciding what they change in the state is the caller's (checkpoint.ts,
 * entity-ownership.ts).
 */
export interface PersistedAlertState {
  /** The alert key (entity/facility/rule), without the run prefix. */
  readonly key: string;
  /** The record's timestamp (window start, or the clock of a handover). */
  readonly ts: number;
  /** Handover records only: the publisher's clock; every output up to it was written and committed. */
  readonly asOf?: number;
  /** null: a tombstone. */
  readonly value: AlertStateRecord | null;
}

interface AlertStateValue extends AlertStateRecord {
  readonly asOf?: number;
}

export const ALERT_STATE_KEY_SEPARATOR = '/';

/** The topic key of an alert key in this run. */
export function alertStateTopicKey(run: string, key: string): string {
  return `${run}${ALERT_STATE_KEY_SEPARATOR}${key}`;
}

/** The record of one status: a window close's (`asOf` absent, `ts` the window start) or a handover's (`ts` = `asOf`). */
export function alertStateRecord(topic: string, run: string, s: AlertStateRecord, ts: number, asOf?: number): ProduceRecord {
  const value: AlertStateValue = { key: s.key, status: s.status, cureDeadline: s.cureDeadline, since: s.since, ...(asOf === undefined ? {} : { asOf }) };
  return { topic, key: alertStateTopicKey(run, s.key), ts, value };
}

export interface AlertStateStoreOptions {
  readonly reader: Pick<LogReader, 'readToEnd'>;
  readonly topic: string;
  readonly run: string;
  /** A record of this run that does not decode (dead-lettered by the caller, once per record per process); it is skipped. */
  readonly onInvalid?: (record: ConsumedRecord, reason: string) => Promise<void>;
}

export class AlertStateStore {
  /** `partition/offset` of the invalid records already reported. */
  private readonly reported = new Set<string>();

  constructor(private readonly o: AlertStateStoreOptions) {}

  /** Handover records of these statuses, as of the publisher's clock. */
  handoverRecords(states: readonly AlertStateRecord[], asOfMs: number): ProduceRecord[] {
    return states.map((s) => alertStateRecord(this.o.topic, this.o.run, s, asOfMs, asOfMs));
  }

  /** This run's records, in topic order. */
  async read(): Promise<PersistedAlertState[]> {
    const prefix = alertStateTopicKey(this.o.run, '');
    const out: PersistedAlertState[] = [];
    for (const r of await this.o.reader.readToEnd(this.o.topic)) {
      if (r.key === null || !r.key.startsWith(prefix)) continue;
      const d = decodeAlertState(r.value);
      if (!d.ok) {
        const at = `${r.partition}/${r.offset}`;
        if (!this.reported.has(at)) {
          this.reported.add(at);
          await this.o.onInvalid?.(r, d.reason);
        }
        continue;
      }
      const v: AlertStateValue | null = d.value;
      const value = v === null ? null : { key: v.key, status: v.status, cureDeadline: v.cureDeadline, since: v.since };
      out.push({ key: r.key.slice(prefix.length), ts: r.ts, ...(v?.asOf === undefined ? {} : { asOf: v.asOf }), value });
    }
    return out;
  }

  /** The latest status of every key of this run, by entity: what a new owner continues (a rebalance handover). */
  async latestByEntity(): Promise<Map<string, AlertStateRecord[]>> {
    const latest = new Map<string, AlertStateRecord | null>();
    for (const r of await this.read()) latest.set(r.key, r.value);
    const byEntity = new Map<string, AlertStateRecord[]>();
    for (const [key, rec] of latest) {
      const entity = entityOfAlertKey(key);
      if (rec === null || entity === null) continue;
      const list = byEntity.get(entity);
      if (list) list.push(rec);
      else byEntity.set(entity, [rec]);
    }
    return byEntity;
  }

  /** Per key of these entities whose latest record is a handover's, that status (what a previous owner left in good order). */
  async latestHandovers(owns: (entity: string) => boolean): Promise<AlertStateRecord[]> {
    const latest = new Map<string, PersistedAlertState>();
    for (const r of await this.read()) latest.set(r.key, r);
    const out: AlertStateRecord[] = [];
    for (const r of latest.values()) {
      const entity = entityOfAlertKey(r.key);
      if (r.asOf !== undefined && r.value !== null && entity !== null && owns(entity)) out.push(r.value);
    }
    return out;
  }

  /**
   * Per key of the entities this instance owns, the latest status published before the checkpoint
   * (the event time of the committed quotes). A window-close record is, when its window was closed
   * by then (a window closes at the first quote of a later one); a handover record, when its clock
   * is not past the checkpoint. Later records were written past the checkpoint by the run that
   * crashed: its quotes are processed again, and those records would put the state ahead of its
   * offsets. Keys whose latest record is a tombstone are left out.
   */
  async persistedAt(checkpointTs: number, emitIntervalMs: number, owns: (entity: string) => boolean): Promise<AlertStateRecord[]> {
    const latest = new Map<string, AlertStateRecord | null>();
    for (const r of await this.read()) {
      const before = r.asOf !== undefined ? r.asOf <= checkpointTs : isWindowClosed(r.ts, checkpointTs, emitIntervalMs);
      if (r.value !== null && !before) continue;
      const entity = entityOfAlertKey(r.key);
      if (entity === null || !owns(entity)) continue;
      latest.set(r.key, r.value);
    }
    return [...latest.values()].filter((x): x is AlertStateRecord => x !== null);
  }
}
