import type { DomainParams } from '../params.ts';
import type { SheetVersion } from '../sheet/sheet.ts';
import type { AlertRule, StepOutput } from './step-types.ts';
import type { Valuation } from '../valuation/valuation-types.ts';
import { REVALUATION } from '../params.ts';
import { eventId } from '../event-id.ts';
import { valueEntity } from '../valuation/valuation.ts';
import { valueEntityFast } from '../valuation/fast-valuation.ts';
import { encodeAlertKey, ENTITY_FACILITY } from '../alerts/alert-key.ts';
import type { EntitySlot, ProcessorState, VersionInfo } from './step-state.ts';

/** What the parts of `step` (step.ts) share: the valuation of the path in use, alerts, an entity's version and latest revaluation. */

export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const NO_STRESS = { stress: false } as const;
export const WITH_STRESS = { stress: true } as const;
export const HOUR_MS = 3_600_000;

/** The filter is on (the default path). */
export const isIncremental = (params: DomainParams): boolean => params.revaluation === undefined || params.revaluation === REVALUATION.incremental;

/** The valuation of the path in use: the reference one on the reference path, the fast one (bit-identical) otherwise. */
export function valueOf(sheet: SheetVersion, state: ProcessorState, atMs: number, params: DomainParams, options: { readonly stress: boolean }): Valuation {
  return params.revaluation === REVALUATION.reference ? valueEntity(sheet, state.index.market, atMs, params, options) : valueEntityFast(sheet, state.index.market, atMs, params, options);
}

export type Cause = Readonly<Record<string, string | number | null>>;

export function pushAlert(
  state: ProcessorState,
  out: StepOutput[],
  a: { entity: string; facility: string | null; rule: AlertRule; from: string; to: string; value: number | null; threshold: number | null; at: number; cause?: Cause },
  /** What else identifies the event (a data_quality alert: instrument, source, quote ts). */
  ...idExtra: ReadonlyArray<string | number>
): void {
  out.push({ kind: 'alert', eventId: eventId('alert', a.entity, a.facility, a.rule, a.from, a.to, a.at, ...idExtra), ...a });
  if (a.entity !== ENTITY_FACILITY) state.window.alertKeys.add(encodeAlertKey(a.entity, a.facility, a.rule));
}

/** The version in force at `atMs`: the last whose effectiveFrom is at or before it (none: null). */
export function versionAt(slot: EntitySlot, atMs: number): VersionInfo | null {
  const v = slot.versions;
  for (let i = v.length - 1; i >= 0; i--) if (v[i].fromMs <= atMs) return v[i];
  return null;
}

/** Marks the entity as revalued at `atMs` (its latest revaluation; in the open window). */
export function touch(state: ProcessorState, slot: EntitySlot, version: VersionInfo, atMs: number): void {
  slot.latest = version;
  slot.latestAtMs = atMs;
  if (slot.windowSeq !== state.window.seq) {
    slot.windowSeq = state.window.seq;
    state.window.entities.add(slot.id);
  }
}

/** The entity's latest valuation (without stress), rebuilt: the market of its instruments is unchanged since. */
export function latestValuation(state: ProcessorState, slot: EntitySlot, params: DomainParams): Valuation | null {
  return slot.latest === null ? null : valueOf(slot.latest.sheet, state, slot.latestAtMs, params, NO_STRESS);
}
