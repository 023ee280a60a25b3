import { z } from 'zod';

/**
 * The schema of config/scenarios.yaml: the starting market, the model of each series and the
 * scenarios (shocks over a window) of the simulator. See the file's comments for each number's
 * source. Unknown keys are refused.
 */
const positive = z.number().positive('must be a positive number');
const nonNeg = z.number().nonnegative('must be a non-negative number');
const modelId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a catalog id');
const fraction = z.number().min(0, 'must be a number between 0 and 1').lt(1, 'must be a number between 0 and 1');

export const StartPricesSchema = z.strictObject({
  crypto: z.strictObject({ BTC: positive, ETH: positive }),
  /** USD per GPU-hour, by catalog id. */
  rental: z.record(modelId, positive),
  /** USD per unit, by catalog id (GPUs and ASICs). */
  resale: z.record(modelId, positive),
  /** USD per TH/s per day. */
  hashprice: positive,
});
export type StartPrices = z.infer<typeof StartPricesSchema>;

const perKind = <T extends z.ZodType>(t: T) => z.strictObject({ crypto: t, rental: t, resale: t, hashprice: t });

const CryptoAssetModelSchema = z.strictObject({
  /** Log drift per year. */
  driftPerYear: z.number(),
  volPerYear: nonNeg,
  /** The asset's jump is the common jump times this. */
  jumpBeta: z.number(),
});

export const SimModelSchema = z.strictObject({
  sources: z.array(z.string().regex(/^[a-z0-9-]+$/, 'must match [a-z0-9-]+')).min(1),
  /** Seconds of event time between two quotes of one source for one instrument. */
  cadenceS: perKind(positive),
  sourceNoise: perKind(nonNeg),
  sourceBias: perKind(nonNeg),
  crypto: z.strictObject({
    BTC: CryptoAssetModelSchema,
    ETH: CryptoAssetModelSchema,
    correlation: z.number().min(-1).max(1),
    jumps: z.strictObject({ perYear: nonNeg, meanLog: z.number(), stdLog: nonNeg }),
  }),
  rental: z.strictObject({
    deflationPerYear: fraction,
    noiseVolPerYear: nonNeg,
    meanReversionPerYear: nonNeg,
    regimeShifts: z.strictObject({ perYear: nonNeg, stdLog: nonNeg }),
  }),
  resale: z.strictObject({
    gpu: z.strictObject({ lagDays: nonNeg, elasticity: nonNeg }),
    asic: z.strictObject({ lagDays: nonNeg, elasticity: nonNeg }),
  }),
  hashprice: z.strictObject({
    difficultyGrowthPerYear: z.number().gt(-1),
    noiseVolPerYear: nonNeg,
    meanReversionPerYear: nonNeg,
  }),
});
export type SimModel = z.infer<typeof SimModelSchema>;

/** A move of `move` (a fraction, -0.75 = -75%) over `months`, starting `startMonth` months in. */
export const ShockSchema = z.strictObject({
  move: z.number().gt(-1, 'must be greater than -1'),
  months: positive,
  startMonth: nonNeg.default(0),
});
export type Shock = z.infer<typeof ShockSchema>;

/** Starting prices a scenario replaces (a backtest from another date); the rest keep `start`. */
export const StartOverrideSchema = z.strictObject({
  crypto: z.strictObject({ BTC: positive.optional(), ETH: positive.optional() }).optional(),
  rental: z.record(modelId, positive).optional(),
  resale: z.record(modelId, positive).optional(),
  hashprice: positive.optional(),
});

export const ScenarioSpecSchema = z.strictObject({
  description: z.string().min(1),
  start: StartOverrideSchema.optional(),
  crypto: z.strictObject({ BTC: ShockSchema.optional(), ETH: ShockSchema.optional() }).optional(),
  rental: ShockSchema.optional(),
  hashprice: z.strictObject({ difficultyGrowthPerYear: z.number().gt(-1) }).optional(),
});
export type ScenarioSpec = z.infer<typeof ScenarioSpecSchema>;

export const REQUIRED_SCENARIOS = ['calm', 'crypto_crash', 'compute_glut', 'double_leverage'] as const;

export const ScenariosFileSchema = z
  .strictObject({
    start: StartPricesSchema,
    model: SimModelSchema,
    scenarios: z.record(z.string().regex(/^[a-z0-9_]+$/, 'must match [a-z0-9_]+'), ScenarioSpecSchema),
  })
  .superRefine((f, ctx) => {
    for (const name of REQUIRED_SCENARIOS) {
      if (!(name in f.scenarios)) ctx.addIssue({ code: 'custom', path: ['scenarios', name], message: 'is required' });
    }
    for (const [name, spec] of Object.entries(f.scenarios)) {
      // An override may only re-price a series the file already has: the instrument set stays one.
      for (const kind of ['rental', 'resale'] as const) {
        for (const model of Object.keys(spec.start?.[kind] ?? {})) {
          if (!(model in f.start[kind])) ctx.addIssue({ code: 'custom', path: ['scenarios', name, 'start', kind, model], message: `not in start.${kind}` });
        }
      }
    }
    for (const model of Object.keys(f.start.rental)) {
      if (!(model in f.start.resale)) ctx.addIssue({ code: 'custom', path: ['start', 'resale', model], message: 'a model with a rental price needs a resale price' });
    }
  });
export type ScenariosFile = z.infer<typeof ScenariosFileSchema>;
