import type { ConsumedRecord, TopicOffset } from '../bus/bus.ts';
import type { AlertStateRecord, StepEvent } from '../domain/step/step-types.ts';
import { RELEASED_ENTITY_TS } from '../domain/step/step-types.ts';
import { decodeEntity, type DecodedEntity } from './decode.ts';

/**
 * Which entities this instance holds (ARCHITECTURE.md "Scale", docs/processor.md): the shared
 * `entities` group assigns partitions; the entities of an owned partition are this instance's. The
 * component turns assignments and entity records into `step` events and tells when the owned
 * partitions are read to their end; it never steps nor writes (the runtime loop does).
 *
 * - A revoked partition releases its entities: a removal with `ts` RELEASED_ENTITY_TS, so their
 *   exposure stays with the new owner (StepEvent `entity`).
 * - A partition kept through a rebalance is re-delivered from its start (the group never commits
 *   `entities`): records already applied are skipped, since applying one again would revalue the
 *   entity and write points a one-instance run does not have.
 * - An entity taken over from another instance starts from the statuses it held (`takeOver`, read
 *   from `alert-state`), not from `ok`: otherwise every active alert of a moved entity fires again.
 */
export interface Assignment {
  /** Removal events of the entities of revoked partitions. */
  readonly released: readonly StepEvent[];
  readonly releasedIds: ReadonlySet<string>;
  /** Partitions newly owned. */
  readonly added: readonly number[];
}

export interface Accepted {
  readonly events: readonly StepEvent[];
  /** Records of owned partitions that do not decode: for the dead-letter topic, in their order. */
  readonly rejected: ReadonlyArray<{ readonly record: ConsumedRecord; readonly reason: string }>;
}

export class EntityOwnership {
  private owned = new Set<number>();
  private readonly partitionOf = new Map<string, number>();
  /** Per owned partition, its end offset when it was assigned. */
  private end = new Map<number, bigint>();
  /** Per partition, the next offset after the last record delivered. */
  private readonly seen = new Map<number, bigint>();
  /** Per owned partition, the next offset not yet applied. */
  private readonly appliedNext = new Map<number, bigint>();
  /** Statuses of this run by entity, kept until the added partitions are read to their end. */
  private handover: ReadonlyMap<string, readonly AlertStateRecord[]> | null = null;

  /** `decode`: how records are decoded (the processor shares its EntityDecoder with the contagion stage). */
  constructor(private readonly decode: (r: ConsumedRecord) => DecodedEntity = decodeEntity) {}

  get entityCount(): number {
    return this.partitionOf.size;
  }

  get partitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  owns(entity: string): boolean {
    return this.partitionOf.has(entity);
  }

  /** A new assignment: releases the entities of revoked partitions. Call `readTo` with the end offsets next. */
  assign(partitions: readonly number[]): Assignment {
    const now = new Set(partitions);
    const added = partitions.filter((p) => !this.owned.has(p));
    const released: StepEvent[] = [];
    const releasedIds = new Set<string>();
    for (const [id, p] of this.partitionOf) {
      if (now.has(p)) continue;
      released.push({ kind: 'entity', id, entity: null, ts: RELEASED_ENTITY_TS });
      releasedIds.add(id);
      this.partitionOf.delete(id);
    }
    for (const p of [...this.appliedNext.keys()]) if (!now.has(p)) this.appliedNext.delete(p);
    this.owned = now;
    return { released, releasedIds, added };
  }

  /** The end offsets of the entities topic: owned partitions count as read once they reach these. */
  readTo(endOffsets: readonly TopicOffset[]): void {
    this.end = new Map(endOffsets.filter((e) => this.owned.has(e.partition)).map((e) => [e.partition, BigInt(e.offset)]));
  }

  /** The statuses entities taken over start from (by entity), until the owned partitions are read to their end. */
  takeOver(statuses: ReadonlyMap<string, readonly AlertStateRecord[]>): void {
    this.handover = statuses;
  }

  /** Every owned partition is read to the end offsets given to `readTo`. */
  isReadToEnd(): boolean {
    for (const [p, end] of this.end) if ((this.seen.get(p) ?? 0n) < end) return false;
    return true;
  }

  /** The events of a batch of entity records (records of partitions not owned, or already applied, give none). */
  accept(records: readonly ConsumedRecord[]): Accepted {
    const events: StepEvent[] = [];
    const rejected: Array<{ record: ConsumedRecord; reason: string }> = [];
    for (const r of records) {
      const next = BigInt(r.offset) + 1n;
      if (next > (this.seen.get(r.partition) ?? 0n)) this.seen.set(r.partition, next);
      if (!this.owned.has(r.partition)) continue;
      if (next <= (this.appliedNext.get(r.partition) ?? 0n)) continue;
      this.appliedNext.set(r.partition, next);
      const d = this.decode(r);
      if (!d.ok) {
        rejected.push({ record: r, reason: d.reason });
        continue;
      }
      const { id, entity } = d.value;
      const held = this.partitionOf.has(id);
      if (entity === null) this.partitionOf.delete(id);
      else this.partitionOf.set(id, r.partition);
      const statuses = !held && entity !== null ? this.handover?.get(id) : undefined;
      events.push(statuses !== undefined ? { kind: 'entity', id, entity, ts: r.ts, statuses } : { kind: 'entity', id, entity, ts: r.ts });
    }
    if (this.handover !== null && this.isReadToEnd()) this.handover = null;
    return { events, rejected };
  }
}
