import { z } from 'zod';

/**
 * The `ingest:` section of the config (the issue "Ingestors"). Every key has a default, so an empty
 * section is valid: three exchanges over websockets (REST polling where ccxt has no websocket),
 * vast.ai and RunPod without keys, Lambda only when LAMBDA_API_KEY is set, eBay only when
 * EBAY_OAUTH_TOKEN is set; generic HTTP, file and hashprice sources only when configured.
 * Secrets never live here: only the NAME of the environment variable that holds them.
 * Cron expressions are node-cron's (six fields = with seconds).
 */
const cron = z.string().min(9);
const url = z.string().url();
const bounds = z.strictObject({ min: z.number().nonnegative(), max: z.number().positive() }).refine((b) => b.min < b.max, 'min must be below max');

/** Dotted field path into a JSON payload, e.g. `data.items` or `prices.0.value`. */
const fieldPath = z.string().min(1);

export const ExchangeSchema = z.strictObject({
  /** ccxt exchange id (coinbase, kraken, binance, bitstamp, ...). */
  name: z.string().min(1),
  /** Overrides ingest.crypto.symbols for this exchange. */
  symbols: z.array(z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/)).optional(),
  /** ws = ccxt pro watchTicker(s); rest = fetchTicker polling by cron; auto = ws where ccxt has it. */
  mode: z.enum(['auto', 'ws', 'rest']).default('auto'),
  /** Extra ccxt constructor options, deep-merged by ccxt (e.g. `urls.api` to point at a test server). */
  options: z.record(z.string(), z.unknown()).default({}),
});

export const HttpSourceSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/),
  kind: z.enum(['rental', 'resale', 'hashprice']),
  url,
  method: z.enum(['GET', 'POST']).default('GET'),
  body: z.unknown().optional(),
  /** Header name -> environment variable holding its value (e.g. Authorization: MY_FEED_TOKEN). */
  headersFromEnv: z.record(z.string(), z.string()).default({}),
  headers: z.record(z.string(), z.string()).default({}),
  cron: cron.default('0 */5 * * * *'),
  /** Path to the array of rows; absent = the payload itself is one row (or the array). */
  itemsPath: fieldPath.optional(),
  /** Path to the model name in a row (rental/resale); absent for hashprice. */
  modelPath: fieldPath.optional(),
  pricePath: fieldPath,
  /** Path to the event time (ISO string, or epoch s/ms); absent = receipt time. */
  tsPath: fieldPath.optional(),
  /** Path to a divisor such as the GPU count of an instance, to get a price per unit. */
  unitsPath: fieldPath.optional(),
  /** Multiplier applied to the price (0.01 for cents). */
  priceScale: z.number().positive().default(1),
  /** Source spelling -> catalog id, before the catalog's aliases. */
  modelMap: z.record(z.string(), z.string()).default({}),
});

export const FileSourceSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/),
  kind: z.enum(['rental', 'resale']).default('resale'),
  /** Directory watched for new .csv or .json files (broker quotes, auction results). */
  dir: z.string().min(1),
  /** How often the directory is scanned (fs.watch is unreliable on network mounts). */
  pollMs: z.number().int().positive().default(5000),
});

export const IngestConfigSchema = z.strictObject({
  /** Allowance for quotes dated in the future (source clocks differ from ours). */
  clockSkewS: z.number().nonnegative().default(5),
  /** A live quote older than this is stale and dead-lettered; backfill and imports skip it. */
  maxQuoteAgeS: z.number().positive().default(86_400),
  /** No tick for this long on a websocket: reconnect and count it. */
  watchdogS: z.number().positive().default(60),
  backoff: z
    .strictObject({ initialMs: z.number().int().positive().default(1000), maxMs: z.number().int().positive().default(60_000) })
    .prefault({}),
  /** HTTP timeout for marketplace and feed requests. */
  httpTimeoutMs: z.number().int().positive().default(10_000),
  /** Seconds between `feed` points written to InfluxDB. */
  feedPointsS: z.number().positive().default(15),
  /**
   * The outbox while Kafka is away (docs/reliability.md "Ingest while Kafka is away"): memory, then
   * disk segments in `dir` (empty: <tmp>/ccm-spool/<topic prefix>), at most `maxMb` on disk, past
   * which the oldest segment is dropped and counted.
   */
  spool: z
    .strictObject({
      dir: z.string().default(''),
      memoryRecords: z.number().int().positive().default(10_000),
      maxMb: z.number().positive().default(256),
    })
    .prefault({}),
  /** Price bounds by instrument id or `<kind>:*` (USD per coin, per GPU-hour, per unit, per TH/s/day). */
  bounds: z.record(z.string(), bounds).default({
    BTC: { min: 1000, max: 10_000_000 },
    ETH: { min: 10, max: 1_000_000 },
    'rental:*': { min: 0.01, max: 100 },
    'resale:*': { min: 10, max: 2_000_000 },
    hashprice: { min: 0.0001, max: 100 },
  }),
  crypto: z
    .strictObject({
      enabled: z.boolean().default(true),
      symbols: z.array(z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/)).default(['BTC/USD', 'BTC/USDT', 'BTC/USDC', 'ETH/USD', 'ETH/USDT', 'ETH/USDC']),
      exchanges: z.array(ExchangeSchema).default([
        { name: 'coinbase', mode: 'auto', options: {} },
        { name: 'kraken', mode: 'auto', options: {} },
        { name: 'bitstamp', mode: 'auto', options: {} },
      ]),
      /** REST polling schedule for exchanges without websockets (or mode: rest). */
      pollCron: cron.default('*/15 * * * * *'),
      /**
       * Exchanges whose ccxt parseTicker leaves `timestamp` undefined, so event time is receipt time
       * (ccxt 4.5.84, js/src/kraken.js and js/src/pro/kraken.js: `'timestamp': undefined`; bitfinex.js
       * likewise). A ticker without a timestamp is stamped with receipt time anyway; this list forces it.
       */
      receiptTimeExchanges: z.array(z.string()).default(['kraken', 'bitfinex']),
    })
    .prefault({}),
  vast: z
    .strictObject({
      enabled: z.boolean().default(true),
      url: url.default('https://console.vast.ai/api/v0/bundles/'),
      apiKeyEnv: z.string().default('VAST_API_KEY'),
      cron: cron.default('0 */10 * * * *'),
      /** vast gpu_name values to query (spaces, not underscores). */
      gpuNames: z.array(z.string()).default(['H100 SXM', 'H100 PCIE', 'H100 NVL', 'H200', 'A100 SXM4', 'A100 PCIE', 'L40S', 'RTX 4090']),
      minReliability: z.number().min(0).max(1).default(0.95),
      /** Fraction cut from EACH end before the median (0.1 = 10% lowest and 10% highest). */
      trimFraction: z.number().min(0).lt(0.5).default(0.1),
      minOffers: z.number().int().positive().default(3),
    })
    .prefault({}),
  runpod: z
    .strictObject({
      enabled: z.boolean().default(true),
      url: url.default('https://api.runpod.io/graphql'),
      apiKeyEnv: z.string().default('RUNPOD_API_KEY'),
      cron: cron.default('0 */10 * * * *'),
      /** Which price: on-demand (`lowestPrice.uninterruptablePrice`), or the secure / community list price. */
      price: z.enum(['uninterruptable', 'secure', 'community']).default('uninterruptable'),
    })
    .prefault({}),
  lambda: z
    .strictObject({
      /** Runs only when the key variable is set (an unauthenticated request gets 401). */
      enabled: z.boolean().default(true),
      url: url.default('https://cloud.lambda.ai/api/v1/instance-types'),
      apiKeyEnv: z.string().default('LAMBDA_API_KEY'),
      cron: cron.default('0 */10 * * * *'),
    })
    .prefault({}),
  ebay: z
    .strictObject({
      /** Runs only when the token variable is set. */
      enabled: z.boolean().default(true),
      url: url.default('https://api.ebay.com/buy/browse/v1/item_summary/search'),
      tokenEnv: z.string().default('EBAY_OAUTH_TOKEN'),
      marketplace: z.string().default('EBAY_US'),
      cron: cron.default('0 0 * * * *'),
      queries: z
        .array(
          z.strictObject({
            model: z.string().min(1),
            q: z.string().min(1),
            categoryIds: z.string().optional(),
            condition: z.enum(['USED', 'NEW']).default('USED'),
            minPriceUsd: z.number().nonnegative().default(1000),
            /** A title must contain each of these (case-insensitive). */
            titleMustHave: z.array(z.string()).default([]),
          }),
        )
        .default([
          { model: 'H100-PCIE', q: 'H100 80GB PCIe', condition: 'USED', minPriceUsd: 5000, titleMustHave: ['H100', 'PCIe'] },
          { model: 'A100-PCIE', q: 'A100 80GB PCIe', condition: 'USED', minPriceUsd: 2000, titleMustHave: ['A100', '80'] },
        ]),
      /** Listings whose title contains any of these are not the part itself. */
      excludeTitle: z.array(z.string()).default(['for parts', 'empty box', 'box only', 'fan', 'heatsink', 'bracket', 'broken', 'not working']),
      trimFraction: z.number().min(0).lt(0.5).default(0.1),
      minListings: z.number().int().positive().default(3),
    })
    .prefault({}),
  http: z.array(HttpSourceSchema).default([]),
  files: z.array(FileSourceSchema).default([]),
  hashprice: z
    .strictObject({
      /** A feed that publishes hashprice (USD per TH/s per day) directly. */
      http: z
        .strictObject({ url, pricePath: fieldPath, tsPath: fieldPath.optional(), cron: cron.default('0 */10 * * * *'), headersFromEnv: z.record(z.string(), z.string()).default({}) })
        .optional(),
      /**
       * Derived from the BTC index of the crypto feeds and a network difficulty (plus optional fee) feed:
       * hashprice = 144 blocks/day * (subsidy + fees per block) * BTCUSD / network TH/s,
       * network H/s = difficulty * 2^32 / 600.
       */
      derived: z
        .strictObject({
          difficultyUrl: url,
          difficultyPath: fieldPath,
          feesUrl: url.optional(),
          /** Average fees per block, in BTC (or sats with feesInSats). */
          feesPath: fieldPath.optional(),
          feesInSats: z.boolean().default(false),
          subsidyBtc: z.number().positive().default(3.125),
          cron: cron.default('0 */10 * * * *'),
        })
        .optional(),
    })
    .prefault({}),
});

export type IngestConfig = z.infer<typeof IngestConfigSchema>;
export type ExchangeConfig = z.infer<typeof ExchangeSchema>;
export type HttpSourceConfig = z.infer<typeof HttpSourceSchema>;
export type FileSourceConfig = z.infer<typeof FileSourceSchema>;
