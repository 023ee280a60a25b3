import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CatalogSchema, toCatalog } from '../../src/domain/sheet/catalog.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import type { Quote } from '../../src/domain/market/quote.ts';
import type { Entity, SheetVersion, SheetVersionInput } from '../../src/domain/sheet/sheet.ts';
import { SheetVersionSchema } from '../../src/domain/sheet/sheet.ts';
import type { StepEvent, StepOutput } from '../../src/domain/step/step-types.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { initialState, step } from '../../src/domain/step/step.ts';
import type { ProcessorState } from '../../src/domain/step/step.ts';

/** Builders for the step tests: one neocloud whose single loan's LTV is set by the resale index. */

export const T0 = Date.UTC(2025, 9, 1);
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

const catalog = toCatalog(CatalogSchema.parse(parse(readFileSync(new URL('../../config/catalog.yaml', import.meta.url), 'utf8'))));

export const params = (overrides: Partial<DomainParams> = {}): DomainParams => ({ ...defaultDomainParams(catalog), ...overrides });

export const PRINCIPAL = 20_000_000;
export const COUNT = 1_000;
/** The H100 resale price that puts the loan at `ltv` (bullet loan: outstanding = principal). */
export const resaleForLtv = (ltv: number): number => PRINCIPAL / (COUNT * ltv);

/** A fully contracted fleet (no rental index needed) pledged to one bullet loan. */
export function aSheet(overrides: Partial<SheetVersionInput> = {}): SheetVersion {
  return SheetVersionSchema.parse({
    id: 'acme',
    name: 'Acme Compute',
    type: 'neocloud',
    cash: 0,
    fleet: [{ id: 'h100-a', model: 'H100-SXM', count: COUNT, costPerUnit: 30_000, acquiredAt: '2024-01-01', contracted: { share: 1, ratePerHour: 2.5, until: '2035-01-01' } }],
    facilities: [
      {
        id: 'loan-1',
        kind: 'gpu_term_loan',
        principal: PRINCIPAL,
        rate: 0.1,
        start: '2020-01-01',
        maturity: '2035-01-01',
        collateral: ['fleet:h100-a'],
        covenants: { ltvWarn: 0.65, ltvMarginCall: 0.75, ltvLiquidation: 0.85 },
        cureHours: 1,
      },
    ],
    ...overrides,
  });
}

export const anEntity = (versions: SheetVersion[] = [aSheet()]): Entity => ({ id: versions[0].id, versions });

export const aQuote = (instrument: string, price: number, ts: number, source = 'src-a'): Quote => ({ v: 1, instrument, price, source, ts, tsSource: 'source', receivedAt: ts });

export const entityEvent = (entity: Entity, ts = 0): StepEvent => ({ kind: 'entity', id: entity.id, entity, ts });
export const quoteEvent = (instrument: string, price: number, ts: number, source = 'src-a'): StepEvent => ({ kind: 'quote', quote: aQuote(instrument, price, ts, source) });
export const tickEvent = (ts: number): StepEvent => ({ kind: 'tick', ts });

/** Folds step over events from a fresh state; returns the final state and all outputs in order. */
export function run(events: readonly StepEvent[], p: DomainParams, from?: ProcessorState): { state: ProcessorState; outputs: StepOutput[] } {
  let state = from ?? initialState(p);
  const outputs: StepOutput[] = [];
  for (const e of events) {
    const r = step(state, e, p);
    state = r.state;
    outputs.push(...r.outputs);
  }
  return { state, outputs };
}

export const alertsOf = (outputs: readonly StepOutput[], rule?: string) =>
  outputs.flatMap((o) => (o.kind === 'alert' && (rule === undefined || o.rule === rule) ? [o] : []));
export const ofKind = <K extends StepOutput['kind']>(outputs: readonly StepOutput[], kind: K) =>
  outputs.filter((o): o is Extract<StepOutput, { kind: K }> => o.kind === kind);
