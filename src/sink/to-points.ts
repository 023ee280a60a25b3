import type { StepOutput } from '../domain/step/step-types.ts';
import type { ContagionEntity } from '../domain/contagion/contagion.ts';
import { facilityStatusLevel, STATUS, statusLevel, UNKNOWN, type FacilityStatus, type LtvStatus, type Valuation } from '../domain/valuation/valuation-types.ts';
import { FIELD, MEASUREMENT, NO_TAG_VALUE, stressField, TAG } from './measurements.ts';
import type { Point } from './sink.ts';

/**
 * The processor's outputs -> InfluxDB points (the table in measurements.ts). Pure: the same output
 * always gives the same points, stamped with its event time, so a redelivered output overwrites
 * its own points. A null (or absent) number is an omitted field, as is anything not finite:
 * InfluxDB has no null and must never get NaN or Infinity. Booleans are 0/1, statuses their level.
 * `alert_state` has no point: it lives in the compacted Kafka topic only.
 */
export function toPoints(output: StepOutput, run: string): Point[] {
  const points = pointsOf(output, run);
  // a point without fields is invalid line protocol (and would fail its whole batch)
  return points.every(hasFields) ? points : points.filter(hasFields);
}

function hasFields(p: Point): boolean {
  for (const _ in p.fields) return true;
  return false;
}

function pointsOf(output: StepOutput, run: string): Point[] {
  switch (output.kind) {
    case 'price':
      return [point(MEASUREMENT.price, { [TAG.instrument]: output.instrument, [TAG.source]: output.source }, run, { [FIELD.value]: output.value }, output.ts)];
    case 'index':
      return [
        point(
          MEASUREMENT.index,
          { [TAG.instrument]: output.instrument },
          run,
          { [FIELD.value]: output.value, [FIELD.sources]: output.sources, [FIELD.stale]: bit(output.stale), [FIELD.rejected]: output.rejected },
          output.ts,
        ),
      ];
    case 'valuation':
      return valuationPoints(output.valuation, run, output.ts, output.itemsChanged);
    case 'alert':
      return [
        point(
          MEASUREMENT.alert,
          { [TAG.entity]: output.entity, [TAG.facility]: output.facility ?? NO_TAG_VALUE, [TAG.rule]: output.rule, [TAG.to]: output.to },
          run,
          { [FIELD.value]: output.value, [FIELD.threshold]: output.threshold, [FIELD.level]: levelOf(output.to) },
          output.at,
        ),
      ];
    case 'data_quality':
      return [
        point(
          MEASUREMENT.dataQuality,
          { [TAG.instrument]: output.instrument, [TAG.reason]: output.reason, [TAG.source]: output.source },
          run,
          { [FIELD.count]: 1 },
          output.ts,
        ),
      ];
    case 'exposure':
      return [
        point(
          MEASUREMENT.exposure,
          { [TAG.entity]: output.entity, [TAG.model]: output.model },
          run,
          { [FIELD.unitsPledged]: output.unitsPledged, [FIELD.unitsAtMarginCall]: output.unitsAtMarginCall, [FIELD.depthPerMonth]: output.depthPerMonth },
          output.ts,
        ),
      ];
    case 'spread':
      return [
        point(
          MEASUREMENT.spread,
          { [TAG.model]: output.model },
          run,
          { [FIELD.rentalUsdPerGpuHour]: output.rentalUsdPerGpuHour, [FIELD.resaleUsdPerUnit]: output.resaleUsdPerUnit, [FIELD.rentalYieldAnnual]: output.rentalYieldAnnual },
          output.ts,
        ),
      ];
    case 'alert_state':
      return [];
    case 'contagion_entity':
      return contagionEntityPoints(output.entity, run, output.ts);
    case 'contagion_book':
      return [
        point(MEASUREMENT.contagion, {}, run, { [FIELD.rounds]: output.rounds, [FIELD.converged]: bit(output.converged), [FIELD.defaults]: output.defaults, [FIELD.contagionDefaults]: output.contagionDefaults }, output.ts),
        ...output.models.map((m) =>
          point(MEASUREMENT.contagionModel, { [TAG.model]: m.model }, run, { [FIELD.seizedUnits]: m.seizedUnits, [FIELD.impact]: m.impact, [FIELD.resaleBefore]: m.resaleBefore, [FIELD.resaleAfter]: m.resaleAfter }, output.ts),
        ),
        ...output.lenders.map((l) =>
          point(
            MEASUREMENT.contagionLender,
            { [TAG.lender]: l.lender },
            run,
            { [FIELD.outstanding]: l.outstanding, [FIELD.defaultedDebtToday]: l.defaultedDebtToday, [FIELD.defaultedDebt]: l.defaultedDebt, [FIELD.shortfall]: l.shortfall },
            output.ts,
          ),
        ),
      ];
    default:
      return assertNever(output);
  }
}

/**
 * One `valuation` point, one `facility` point per facility, one `item` point per fleet item that
 * changed (`itemsChanged`, all when absent), one `stress` point with every scenario's fields.
 */
function valuationPoints(v: Valuation, run: string, ts: number, itemsChanged: readonly boolean[] | undefined): Point[] {
  const entity = v.entity;
  const worst = worstLevel(v.facilities);
  const points: Point[] = [
    point(
      MEASUREMENT.valuation,
      { [TAG.entity]: entity, [TAG.type]: v.type ?? NO_TAG_VALUE },
      run,
      {
        [FIELD.cryptoValue]: v.cryptoValue,
        [FIELD.fleetValue]: v.fleetValue,
        [FIELD.cash]: v.cash,
        [FIELD.grossAssets]: v.grossAssets,
        [FIELD.totalDebt]: v.totalDebt,
        [FIELD.securedDebt]: v.securedDebt,
        [FIELD.collateralValue]: v.collateralValue,
        [FIELD.liquidationValue]: v.liquidationValue,
        [FIELD.equity]: v.equity,
        [FIELD.ltv]: v.ltv,
        [FIELD.forcedSaleLtv]: v.forcedSaleLtv,
        [FIELD.noi12]: v.noi12,
        [FIELD.debtService12]: v.debtService12,
        [FIELD.maturities12]: v.maturities12,
        [FIELD.dscr]: v.dscr,
        // an unknown DSCR status is no field at all: a reader must not take it for ok (docs/valuation.md)
        [FIELD.dscrBreach]: v.dscrStatus === UNKNOWN ? null : bit(v.dscrStatus === 'breach'),
        [FIELD.liquidityCoverage]: v.liquidityCoverage,
        [FIELD.runwayMonths]: v.runwayMonths,
        [FIELD.netLeverage]: v.netLeverage,
        [FIELD.breakevenRentalRate]: v.breakevenRentalRate,
        [FIELD.breakevenRentalRateAtCovenant]: v.breakevenRentalRateAtCovenant,
        [FIELD.stale]: bit((v.missing?.length ?? 0) > 0),
        [FIELD.statusLevel]: worst,
      },
      ts,
    ),
  ];
  for (const f of v.facilities) {
    points.push(
      point(
        MEASUREMENT.facility,
        { [TAG.entity]: entity, [TAG.facility]: f.id, [TAG.lender]: f.lender ?? NO_TAG_VALUE },
        run,
        {
          [FIELD.outstanding]: f.outstanding,
          [FIELD.collateralValue]: f.collateralValue,
          [FIELD.liquidationValue]: f.liquidationValue,
          [FIELD.ltv]: f.ltv,
          [FIELD.forcedSaleLtv]: f.forcedSaleLtv,
          [FIELD.headroom]: f.headroom,
          [FIELD.ltvIn12m]: f.ltvIn12m,
          // unknown, or data missing (the machine's held status is not current): no level rather than a wrong one
          [FIELD.statusLevel]: f.dataMissing === true ? null : facilityStatusLevel(f.status),
          [FIELD.cureAmountUsd]: f.cureAmountUsd,
          [FIELD.tenorMonthsLeft]: f.tenorMonthsLeft,
          [FIELD.collateralLifeMonthsLeft]: f.collateralLifeMonthsLeft,
          [FIELD.debtOutlivesCollateral]: f.debtOutlivesCollateral === undefined ? null : bit(f.debtOutlivesCollateral),
          [FIELD.dataMissing]: f.dataMissing === undefined ? null : bit(f.dataMissing),
          [FIELD.ltvWarn]: f.covenants?.ltvWarn,
          [FIELD.ltvMarginCall]: f.covenants?.ltvMarginCall,
          [FIELD.ltvLiquidation]: f.covenants?.ltvLiquidation,
          [FIELD.dscrMin]: f.covenants?.dscrMin,
        },
        ts,
      ),
    );
  }
  for (let i = 0; i < v.fleet.length; i++) {
    if (itemsChanged !== undefined && itemsChanged[i] === false) continue;
    const item = v.fleet[i];
    points.push(
      point(
        MEASUREMENT.item,
        { [TAG.entity]: entity, [TAG.item]: item.id, [TAG.model]: item.model, [TAG.valuedBy]: item.valuedBy },
        run,
        { [FIELD.marketValue]: item.marketValue, [FIELD.liquidationValue]: item.liquidationValue, [FIELD.haircut]: item.haircut },
        ts,
      ),
    );
  }
  if (v.stress.length > 0) {
    const fields: Record<string, number | null> = {};
    for (const s of v.stress) {
      fields[stressField(s.scenario, FIELD.ltv)] = s.ltv;
      fields[stressField(s.scenario, FIELD.dscr)] = s.dscr;
      fields[stressField(s.scenario, FIELD.worstStatusLevel)] = worstLevel(s.facilities);
    }
    points.push(point(MEASUREMENT.stress, { [TAG.entity]: entity }, run, fields, ts));
  }
  return points;
}

/**
 * The worst known status level of some facilities; null (no field) when every one is unknown, 0
 * without facilities. Facilities with data missing hold a status that is not current: not counted.
 */
function worstLevel(facilities: ReadonlyArray<{ readonly status: FacilityStatus; readonly dataMissing?: boolean }>): number | null {
  let worst: number | null = facilities.length === 0 ? 0 : null;
  for (const f of facilities) {
    const level = f.dataMissing === true ? null : facilityStatusLevel(f.status);
    if (level !== null && (worst === null || level > worst)) worst = level;
  }
  return worst;
}

/** The level of an alert's new status: the LTV ladder's 0-3, else 1 for a breach-like status and 0 for ok. */
function levelOf(to: string): number {
  return (STATUS as readonly string[]).includes(to) ? statusLevel(to as LtvStatus) : 1;
}

function point(measurement: string, tags: Record<string, string>, run: string, fields: Record<string, number | null | undefined>, ts: number): Point {
  const kept: Record<string, number> = {};
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'number' && Number.isFinite(v)) kept[k] = v;
  }
  // InfluxDB drops a tag with an empty value, which would merge series: name the absence instead
  // in key order, `run` in its place: InfluxDB sorts a line's tags that come unsorted (the
  // callers give theirs sorted; test/unit/to-points.test.ts checks every kind)
  const t: Record<string, string> = {};
  let runPlaced = false;
  for (const k in tags) {
    if (!runPlaced && k > TAG.run) {
      t[TAG.run] = run;
      runPlaced = true;
    }
    const v = tags[k];
    t[k] = v === '' ? NO_TAG_VALUE : v;
  }
  if (!runPlaced) t[TAG.run] = run;
  return { measurement, tags: t, fields: kept, ts };
}

const bit = (b: boolean): number => (b ? 1 : 0);

function assertNever(x: never): never {
  throw new Error(`toPoints: unhandled output ${JSON.stringify(x)}`);
}

/** `default_round` of a survivor: InfluxDB has no null, and an absent field would let `last()` return an older round. */
const NOT_REACHED = -1;

/** One entity's place in the cascade: its default round (-1 for a survivor) and its LTVs, and each facility's LTV and status after. */
function contagionEntityPoints(e: ContagionEntity, run: string, ts: number): Point[] {
  return [
    point(
      MEASUREMENT.contagionEntity,
      { [TAG.entity]: e.entity },
      run,
      { [FIELD.defaultRound]: e.defaultRound ?? NOT_REACHED, [FIELD.defaulted]: bit(e.defaultRound !== null), [FIELD.ltvBefore]: e.ltvBefore, [FIELD.ltvAfter]: e.ltvAfter },
      ts,
    ),
    ...e.facilities.map((f) =>
      point(MEASUREMENT.contagionFacility, { [TAG.entity]: e.entity, [TAG.facility]: f.id }, run, { [FIELD.ltvAfter]: f.ltvAfter, [FIELD.statusLevel]: facilityStatusLevel(f.statusAfter) }, ts),
    ),
  ];
}
