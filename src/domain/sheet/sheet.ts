import { z } from 'zod';

/**
 * The balance sheet of a borrower (shared/DOMAIN.md "Balance sheet"). A file holds one version,
 * or `versions:` with a list of them, each with its `effectiveFrom`.
 * Dates are `YYYY-MM-DD` (00:00 UTC that day) or full ISO date-times.
 * Extensions beyond DOMAIN.md (docs/valuation.md): facility `cureHours` and `ltvRestore`.
 */
/**
 * Limits on what a sheet may say (docs/reliability.md "Hostile files"). Far beyond any real
 * borrower, tight enough that no value overflows a valuation (1e308 BTC made every total
 * infinite, which InfluxDB cannot store) or stalls it, and that one file stays small.
 */
export const SHEET_LIMITS = {
  /** Dates: a loan or a GPU outside these years is a typo (year 9999, 0202 for 2020). */
  minYear: 1970,
  maxYear: 2200,
  /** USD amounts (cash, principal, cost, fixed costs): ten trillion. */
  maxUsd: 1e13,
  /** All the bitcoin there will ever be; ETH several times its supply. */
  maxBtc: 21_000_000,
  maxEth: 1_000_000_000,
  maxUnits: 100_000_000,
  maxHashrateTh: 1_000_000,
  /** USD per GPU-hour (contract rates, opex per hour) and per unit-day. */
  maxUsdPerHour: 10_000,
  maxUsdPerDay: 1_000_000,
  maxDepthPerMonth: 1_000_000_000,
  /** LTV thresholds and restores, DSCR minimum. */
  maxRatio: 100,
  maxCureHours: 10 * 8766,
  maxAmortizationMonths: 1200,
  maxFleetItems: 1000,
  maxFacilities: 200,
  maxPledges: 1000,
  maxVersions: 240,
  maxIdLength: 64,
  maxNameLength: 200,
} as const;

const L = SHEET_LIMITS;

const isoDate = z
  .string()
  .max(40, 'must be a date (YYYY-MM-DD) or ISO date-time')
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ].*)?$/.test(s) && !Number.isNaN(Date.parse(s)), 'must be a date (YYYY-MM-DD) or ISO date-time')
  .refine((s) => {
    const year = Number(s.slice(0, 4));
    return !/^\d{4}/.test(s) || (year >= L.minYear && year <= L.maxYear);
  }, `must be a date between the years ${L.minYear} and ${L.maxYear}`);

const fraction01Open = z.number().min(0, 'must be a number between 0 and 1').lt(1, 'must be a number between 0 and 1');
const fraction01 = z.number().min(0, 'must be a number between 0 and 1').max(1, 'must be a number between 0 and 1');
const nonNeg = z.number().nonnegative('must be a non-negative number');
const upTo = (max: number, unit: string) => nonNeg.max(max, `must be at most ${max.toLocaleString('en-US')} ${unit}`);
const usd = upTo(L.maxUsd, 'USD');
const ratio = (schema: z.ZodNumber) => schema.max(L.maxRatio, `must be at most ${L.maxRatio}`);
const ident = z.string().max(L.maxIdLength, `must be at most ${L.maxIdLength} characters`).regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, dot, dash or underscore');
const list = <T extends z.ZodType>(item: T, max: number) => z.array(item).max(max, `must have at most ${max.toLocaleString('en-US')} items`);

export const LiquiditySchema = z.strictObject({
  depthPerMonth: z.number().positive('must be a positive number').max(L.maxDepthPerMonth, `must be at most ${L.maxDepthPerMonth.toLocaleString('en-US')} units a month`),
  h0: fraction01,
  k: fraction01,
  hmax: fraction01,
});
export type Liquidity = z.infer<typeof LiquiditySchema>;

export const ContractedSchema = z.strictObject({
  share: fraction01,
  ratePerHour: upTo(L.maxUsdPerHour, 'USD per GPU-hour'),
  until: isoDate,
});

export const FleetItemSchema = z.strictObject({
  id: ident,
  class: z.enum(['gpu', 'asic']).default('gpu'),
  model: z.string().min(1).max(L.maxIdLength, `must be at most ${L.maxIdLength} characters`),
  count: z.number().int('must be a whole number').nonnegative('must be a non-negative number').max(L.maxUnits, `must be at most ${L.maxUnits.toLocaleString('en-US')} units`),
  costPerUnit: usd,
  acquiredAt: isoDate,
  hashrateTh: upTo(L.maxHashrateTh, 'TH/s').optional(),
  utilization: fraction01.default(1),
  contracted: ContractedSchema.optional(),
  opexPerUnitHour: upTo(L.maxUsdPerHour, 'USD per unit-hour').default(0),
  opexPerUnitDay: upTo(L.maxUsdPerDay, 'USD per unit-day').default(0),
  liquidity: LiquiditySchema.optional(),
  depreciation: fraction01Open.optional(),
});
export type FleetItem = z.infer<typeof FleetItemSchema>;

export const FACILITY_KINDS = ['gpu_term_loan', 'abl', 'equipment_loan', 'crypto_loan', 'convertible', 'bond'] as const;

export const CovenantsSchema = z
  .strictObject({
    ltvWarn: ratio(z.number().positive()).optional(),
    ltvMarginCall: ratio(z.number().positive()).optional(),
    ltvLiquidation: ratio(z.number().positive()).optional(),
    dscrMin: ratio(z.number().nonnegative()).optional(),
  })
  .superRefine((c, ctx) => {
    const order: Array<[string, number | undefined]> = [
      ['ltvWarn', c.ltvWarn],
      ['ltvMarginCall', c.ltvMarginCall],
      ['ltvLiquidation', c.ltvLiquidation],
    ];
    const present = order.filter(([, v]) => v !== undefined) as Array<[string, number]>;
    for (let i = 1; i < present.length; i++) {
      if (!(present[i - 1][1] < present[i][1])) {
        ctx.addIssue({ code: 'custom', path: [present[i][0]], message: 'thresholds must be in order ltvWarn < ltvMarginCall < ltvLiquidation' });
      }
    }
  });
export type Covenants = z.infer<typeof CovenantsSchema>;

export const AmortizationSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('bullet') }),
  z.strictObject({ kind: z.literal('straight_line'), months: z.number().int().positive('must be a positive whole number').max(L.maxAmortizationMonths, `must be at most ${L.maxAmortizationMonths} months`) }),
]);

/** `fleet:<item>`, `holdings:<BTC|ETH>` (all of it) or `holdings:<BTC|ETH>:<units>` (a lot). */
export const PLEDGE_RE = /^(fleet:[A-Za-z0-9._-]+|holdings:(BTC|ETH)(:\d+(\.\d+)?)?)$/;

export const FacilitySchema = z.strictObject({
  id: ident,
  kind: z.enum(FACILITY_KINDS),
  principal: usd,
  rate: z.number().min(0, 'must be a number between 0 and 1').max(1, 'must be a number between 0 and 1'),
  start: isoDate,
  maturity: isoDate,
  amortization: AmortizationSchema.default({ kind: 'bullet' }),
  collateral: list(z.string().max(100, 'must be at most 100 characters').regex(PLEDGE_RE, 'must be fleet:<item>, holdings:<BTC|ETH> or holdings:<BTC|ETH>:<units>'), L.maxPledges).default([]),
  covenants: CovenantsSchema.default({}),
  lender: z.string().max(L.maxNameLength, `must be at most ${L.maxNameLength} characters`).optional(),
  /** Hours of event time a margin call may stay uncured before `cure_expired` (default from config). */
  cureHours: z.number().positive().max(L.maxCureHours, `must be at most ${L.maxCureHours.toLocaleString('en-US')} hours`).optional(),
  /** LTV the cure must restore (default: ltvWarn, else ltvMarginCall). */
  ltvRestore: ratio(z.number().positive()).optional(),
});
export type Facility = z.infer<typeof FacilitySchema>;

export const SheetVersionSchema = z.strictObject({
  id: z.string().max(L.maxIdLength, `must be at most ${L.maxIdLength} characters`).regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+'),
  name: z.string().min(1).max(L.maxNameLength, `must be at most ${L.maxNameLength} characters`),
  effectiveFrom: isoDate.optional(),
  type: z.enum(['neocloud', 'miner']),
  cash: z.number().min(-L.maxUsd, `must be at least -${L.maxUsd.toLocaleString('en-US')} USD`).max(L.maxUsd, `must be at most ${L.maxUsd.toLocaleString('en-US')} USD`),
  holdings: z.strictObject({ BTC: upTo(L.maxBtc, 'BTC').default(0), ETH: upTo(L.maxEth, 'ETH').default(0) }).default({ BTC: 0, ETH: 0 }),
  fixedCostsPerYear: usd.default(0),
  rentalDeflation: fraction01Open.optional(),
  hashpriceDecline: fraction01Open.default(0),
  fleet: list(FleetItemSchema, L.maxFleetItems).default([]),
  facilities: list(FacilitySchema, L.maxFacilities).default([]),
});
export type SheetVersion = z.infer<typeof SheetVersionSchema>;
export type SheetVersionInput = z.input<typeof SheetVersionSchema>;

/** One file: a single version, or `{ id, versions: [...] }` / `{ versions: [...] }`. */
export const SheetFileSchema = z.union([
  z.strictObject({ versions: list(SheetVersionSchema, L.maxVersions).min(1) }),
  SheetVersionSchema,
]);

/** An entity: its id and its versions sorted by effectiveFrom (the first may have none: always). */
export interface Entity {
  readonly id: string;
  readonly versions: readonly SheetVersion[];
}
