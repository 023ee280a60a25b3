import { z } from 'zod';

/**
 * The balance sheet of a borrower (shared/DOMAIN.md "Balance sheet"). A file holds one version,
 * or `versions:` with a list of them, each with its `effectiveFrom`.
 * Dates are `YYYY-MM-DD` (00:00 UTC that day) or full ISO date-times.
 * Extensions beyond DOMAIN.md (docs/valuation.md): facility `cureHours` and `ltvRestore`.
 */
const isoDate = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ].*)?$/.test(s) && !Number.isNaN(Date.parse(s)), 'must be a date (YYYY-MM-DD) or ISO date-time');

const fraction01Open = z.number().min(0, 'must be a number between 0 and 1').lt(1, 'must be a number between 0 and 1');
const fraction01 = z.number().min(0, 'must be a number between 0 and 1').max(1, 'must be a number between 0 and 1');
const nonNeg = z.number().nonnegative('must be a non-negative number');

export const LiquiditySchema = z.strictObject({
  depthPerMonth: z.number().positive('must be a positive number'),
  h0: fraction01,
  k: fraction01,
  hmax: fraction01,
});
export type Liquidity = z.infer<typeof LiquiditySchema>;

export const ContractedSchema = z.strictObject({
  share: fraction01,
  ratePerHour: nonNeg,
  until: isoDate,
});

export const FleetItemSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, dot, dash or underscore'),
  class: z.enum(['gpu', 'asic']).default('gpu'),
  model: z.string().min(1),
  count: z.number().int('must be a whole number').nonnegative('must be a non-negative number'),
  costPerUnit: nonNeg,
  acquiredAt: isoDate,
  hashrateTh: nonNeg.optional(),
  utilization: fraction01.default(1),
  contracted: ContractedSchema.optional(),
  opexPerUnitHour: nonNeg.default(0),
  opexPerUnitDay: nonNeg.default(0),
  liquidity: LiquiditySchema.optional(),
  depreciation: fraction01Open.optional(),
});
export type FleetItem = z.infer<typeof FleetItemSchema>;

export const FACILITY_KINDS = ['gpu_term_loan', 'abl', 'equipment_loan', 'crypto_loan', 'convertible', 'bond'] as const;

export const CovenantsSchema = z
  .strictObject({
    ltvWarn: z.number().positive().optional(),
    ltvMarginCall: z.number().positive().optional(),
    ltvLiquidation: z.number().positive().optional(),
    dscrMin: z.number().nonnegative().optional(),
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
  z.strictObject({ kind: z.literal('straight_line'), months: z.number().int().positive('must be a positive whole number') }),
]);

/** `fleet:<item>`, `holdings:<BTC|ETH>` (all of it) or `holdings:<BTC|ETH>:<units>` (a lot). */
export const PLEDGE_RE = /^(fleet:[A-Za-z0-9._-]+|holdings:(BTC|ETH)(:\d+(\.\d+)?)?)$/;

export const FacilitySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, dot, dash or underscore'),
  kind: z.enum(FACILITY_KINDS),
  principal: nonNeg,
  rate: z.number().min(0, 'must be a number between 0 and 1').max(1, 'must be a number between 0 and 1'),
  start: isoDate,
  maturity: isoDate,
  amortization: AmortizationSchema.default({ kind: 'bullet' }),
  collateral: z.array(z.string().regex(PLEDGE_RE, 'must be fleet:<item>, holdings:<BTC|ETH> or holdings:<BTC|ETH>:<units>')).default([]),
  covenants: CovenantsSchema.default({}),
  lender: z.string().optional(),
  /** Hours of event time a margin call may stay uncured before `cure_expired` (default from config). */
  cureHours: z.number().positive().optional(),
  /** LTV the cure must restore (default: ltvWarn, else ltvMarginCall). */
  ltvRestore: z.number().positive().optional(),
});
export type Facility = z.infer<typeof FacilitySchema>;

export const SheetVersionSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+'),
  name: z.string().min(1),
  effectiveFrom: isoDate.optional(),
  type: z.enum(['neocloud', 'miner']),
  cash: z.number(),
  holdings: z.strictObject({ BTC: nonNeg.default(0), ETH: nonNeg.default(0) }).default({ BTC: 0, ETH: 0 }),
  fixedCostsPerYear: nonNeg.default(0),
  rentalDeflation: fraction01Open.optional(),
  hashpriceDecline: fraction01Open.default(0),
  fleet: z.array(FleetItemSchema).default([]),
  facilities: z.array(FacilitySchema).default([]),
});
export type SheetVersion = z.infer<typeof SheetVersionSchema>;
export type SheetVersionInput = z.input<typeof SheetVersionSchema>;

/** One file: a single version, or `{ id, versions: [...] }` / `{ versions: [...] }`. */
export const SheetFileSchema = z.union([
  z.strictObject({ versions: z.array(SheetVersionSchema).min(1) }),
  SheetVersionSchema,
]);

/** An entity: its id and its versions sorted by effectiveFrom (the first may have none: always). */
export interface Entity {
  readonly id: string;
  readonly versions: readonly SheetVersion[];
}
