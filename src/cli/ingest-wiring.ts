import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/config-schema.ts';
import type { Logger } from '../logger.ts';
import type { Bus } from '../bus/bus.ts';
import type { Catalog } from '../domain/sheet/catalog.ts';
import type { TopicNames } from '../bus/topics.ts';
import { Ingestor, buildSources, LatestPrices } from '../ingest/index.ts';
import { secretValuesOf } from '../redact.ts';

/**
 * Where the ingestor spools while Kafka is away: the configured directory, else one per topic
 * prefix under the OS's temporary directory; none (memory only) when there is no Kafka to wait
 * for (`ccm run` on the in-memory bus).
 */
export function spoolOptions(config: Config): { dir: string | null; memoryRecords: number; maxBytes: number } {
  const s = config.ingest.spool;
  const dir = !config.kafka.enabled ? null : s.dir !== '' ? s.dir : join(tmpdir(), 'ccm-spool', config.kafka.topicPrefix.replace(/[^A-Za-z0-9._-]/g, '_') || 'default');
  return { dir, memoryRecords: s.memoryRecords, maxBytes: Math.round(s.maxMb * 1024 * 1024) };
}

/**
 * Builds the Ingestor the `ingest:` config asks for (`ccm ingest`, `ccm run`). Kept apart from
 * wiring.ts so that `ccm process` never loads ccxt.
 */
export function buildIngestor(config: Config, bus: Bus, names: TopicNames, catalog: Catalog, logger: Logger): { ingestor: Ingestor; sourceNames: string[] } {
  const log = logger.child({ component: 'ingest' });
  const latest = new LatestPrices();
  const { sources, skipped } = buildSources(config.ingest, { catalog, env: process.env, timeoutMs: config.ingest.httpTimeoutMs, backoff: config.ingest.backoff, logger, latest });
  for (const s of skipped) log.info({ source: s.source }, `source off: ${s.reason}`);
  const ingestor = new Ingestor({
    bus,
    topics: { quotes: names.quotes, deadletter: names.deadletter },
    sources,
    bounds: config.ingest.bounds,
    clockSkewMs: config.ingest.clockSkewS * 1000,
    maxQuoteAgeMs: config.ingest.maxQuoteAgeS * 1000,
    logger,
    latest,
    secrets: secretValuesOf(process.env),
    spool: spoolOptions(config),
  });
  return { ingestor, sourceNames: sources.map((s) => s.name) };
}
