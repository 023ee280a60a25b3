import { z } from 'zod';
import { IngestConfigSchema } from './ingest-schema.ts';
import { DOMAIN_DEFAULTS, NEXT_GENERATION_STEPS } from '../domain/defaults.ts';

/**
 * The one config schema (STYLE.md 15), validated once at startup. Layers: config/default.yaml (the
 * embedded default), an optional --config FILE merged over it, then environment overrides
 * (src/config/env.ts). Every key is documented in README.md "Configuration".
 */
const indexRule = z.strictObject({
  staleAfterMs: z.number().int().positive(),
  maxDeviation: z.number().positive(),
  minSources: z.number().int().positive(),
});

const scenario = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]+$/),
  crypto: z.number().min(-1),
  rental: z.number().min(-1),
  gpuResale: z.number().min(-1),
  asicResale: z.number().min(-1),
  hashprice: z.number().min(-1),
  olderGenerationsOnly: z.boolean().optional(),
});

export const ConfigSchema = z.strictObject({
  /** auto: live sources, falling back to the simulator (run=demo) when none answers; live; demo. */
  mode: z.enum(['auto', 'live', 'demo']).default('auto'),
  catalog: z.string().default('config/catalog.yaml'),
  entities: z.string().default('config/entities'),
  /** The simulator's scenarios (ccm simulate, demo mode). */
  scenarios: z.string().default('config/scenarios.yaml'),
  kafka: z
    .strictObject({
      enabled: z.boolean().default(false),
      brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port')).default([]),
      clientId: z.string().default('ccm'),
      topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/).default('ccm.'),
      quotePartitions: z.number().int().positive().default(6),
      entityPartitions: z.number().int().positive().default(6),
      quotesRetentionDays: z.number().positive().default(30),
      valuationsRetentionDays: z.number().positive().default(90),
      deadletterRetentionDays: z.number().positive().default(30),
      ssl: z.boolean().default(false),
      sasl: z
        .strictObject({
          mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
          username: z.string(),
          password: z.string(),
        })
        .optional(),
    })
    .refine((k) => !k.enabled || k.brokers.length > 0, { message: 'kafka.enabled needs at least one broker', path: ['brokers'] })
    .prefault({}),
  influx: z
    .strictObject({
      enabled: z.boolean().default(false),
      url: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL').default('http://127.0.0.1:8086'),
      user: z.string().default(''),
      password: z.string().default(''),
      /**
       * A file of `INFLUX_USER=...` / `INFLUX_PASSWORD=...` lines (what scripts/services.sh writes
       * to .cache/<instance>/credentials.env), read when user or password is empty.
       */
      credentialsFile: z.string().optional(),
      database: z.string().regex(/^[A-Za-z0-9_]+$/).default('ccm'),
      retentionPolicy: z.string().regex(/^[A-Za-z0-9_]+$/).default('raw'),
      /** InfluxDB duration literal; 0s = keep forever. */
      retentionDuration: z.string().regex(/^\d+[smhdw]$/).default('0s'),
      batchSize: z.number().int().positive().default(5000),
    })
    .prefault({}),
  processor: z
    .strictObject({
      run: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must match [a-z0-9][a-z0-9_-]*').default('live'),
      groupId: z.string().default('ccm-processor'),
      /** Stable per instance: each instance reads every quote partition under its own group. */
      instanceId: z.string().regex(/^[A-Za-z0-9._-]+$/).default('p0'),
      tickMs: z.number().int().positive().default(1000),
      maxLatenessMs: z.number().int().nonnegative().default(2000),
      /** Live, a quote stamped further ahead of the wall clock is a dead letter (docs/reliability.md "Poison records"). */
      maxAheadMs: z.number().int().positive().default(300_000),
      /** Look-back window replayed on restart (at least the largest staleAfter). */
      lookbackMs: z.number().int().positive().default(2 * 24 * 3600 * 1000),
      /** The book-level fire-sale cascade at window closes (docs/valuation.md "Contagion"); off saves its copy of the whole book. */
      contagion: z.boolean().default(true),
      emitIntervalMs: z.number().int().positive().default(DOMAIN_DEFAULTS.emitIntervalMs),
    })
    .prefault({}),
  domain: z
    .strictObject({
      cryptoHaircut: z.number().min(0).lt(1).default(DOMAIN_DEFAULTS.cryptoHaircut),
      rentalDeflation: z.number().min(0).lt(1).default(DOMAIN_DEFAULTS.rentalDeflation),
      defaultDepreciation: z.number().min(0).lt(1).default(DOMAIN_DEFAULTS.defaultDepreciation),
      defaultLiquidity: z
        .strictObject({
          depthPerMonth: z.number().positive(),
          h0: z.number().min(0).max(1),
          k: z.number().min(0).max(1),
          hmax: z.number().min(0).max(1),
        })
        .default({ ...DOMAIN_DEFAULTS.defaultLiquidity }),
      hysteresis: z.number().min(0).lt(1).default(DOMAIN_DEFAULTS.hysteresis),
      defaultCureHours: z.number().positive().default(DOMAIN_DEFAULTS.defaultCureHours),
      /** Index rules by instrument id, `kind:<crypto|rental|resale|hashprice>` or `default`. */
      index: z.record(z.string(), indexRule).default({}),
      /** Extra stress scenarios beside the defaults of DOMAIN.md (a same-named one replaces it). */
      scenarios: z.array(scenario).default([]),
      nextGeneration: z
        .strictObject({ resaleStep: z.number().min(-1).max(0), rentalStep: z.number().min(-1).max(0) })
        .default({ ...NEXT_GENERATION_STEPS }),
      /** How step revalues what a quote touches (DomainParams.revaluation, docs/valuation.md "Incremental revaluation"). */
      revaluation: z.enum(['incremental', 'full', 'reference']).default('incremental'),
    })
    .prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      address: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(9464),
    })
    .prefault({}),
  webhook: z
    .strictObject({
      /** Empty = no webhooks; the secret is CCM_WEBHOOK_SECRET (required with a URL). */
      url: z.union([z.literal(''), z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')]).default(''),
      format: z.enum(['json', 'slack']).default('json'),
      timeoutMs: z.number().int().positive().default(5000),
      /** Retries without end (docs/reliability.md "Webhooks"): the delay doubles from initialMs up to maxMs. */
      backoff: z
        .strictObject({ initialMs: z.number().int().positive().default(500), maxMs: z.number().int().positive().default(60_000) })
        .refine((b) => b.initialMs <= b.maxMs, { message: 'initialMs must not exceed maxMs', path: ['initialMs'] })
        .prefault({}),
    })
    .prefault({}),
  demo: z
    .strictObject({
      scenario: z.string().default('double_leverage'),
      seed: z.number().int().default(42),
      /** Simulated event-time seconds per wall-clock second. */
      speed: z.number().positive().default(21600),
      /** Seconds to wait for a live source before falling back to the simulator. */
      liveWaitS: z.number().positive().default(5),
      from: z.string().default('2025-10-01T00:00:00Z'),
    })
    .prefault({}),
  table: z.strictObject({ intervalMs: z.number().int().positive().default(3000) }).prefault({}),
  ingest: IngestConfigSchema.prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
