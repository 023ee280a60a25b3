import type { Config } from '../config/config-schema.ts';
import type { Logger } from '../logger.ts';
import type { Bus } from '../bus/bus.ts';
import type { Sink } from '../sink/sink.ts';
import type { DomainParams, Scenario } from '../domain/params.ts';
import type { Catalog } from '../domain/sheet/catalog.ts';
import { KafkaBus } from '../bus/kafka-bus.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import { topicNames, topicSpecs, type TopicNames } from '../bus/topics.ts';
import { InfluxSink } from '../sink/influx-sink.ts';
import { MemorySink } from '../sink/memory-sink.ts';
import { defaultDomainParams } from '../domain/valuation/valuation.ts';
import { DEFAULT_SCENARIOS } from '../domain/params.ts';

/**
 * The one place that builds the real adapters from the config (STYLE.md 3). Commands call these
 * and hand the results down; a test can build two wirings in one process.
 */
const DAY_MS = 24 * 3600 * 1000;

export function buildBus(config: Config, logger: Logger): Bus {
  const k = config.kafka;
  if (!k.enabled) return new MemoryBus();
  return new KafkaBus({
    brokers: k.brokers,
    clientId: k.clientId,
    logger,
    ssl: k.ssl,
    sasl: k.sasl,
  });
}

export function buildSink(config: Config, logger: Logger): Sink {
  const i = config.influx;
  if (!i.enabled) return new MemorySink();
  return new InfluxSink({
    url: i.url,
    username: i.user,
    password: i.password,
    database: i.database,
    retentionPolicy: { name: i.retentionPolicy, duration: i.retentionDuration },
    batchSize: i.batchSize,
    logger,
  });
}

export function buildTopics(config: Config): { names: TopicNames; specs: ReturnType<typeof topicSpecs> } {
  const k = config.kafka;
  return {
    names: topicNames(k.topicPrefix),
    specs: topicSpecs(k.topicPrefix, {
      quotePartitions: k.quotePartitions,
      entityPartitions: k.entityPartitions,
      quotesRetentionMs: k.quotesRetentionDays * DAY_MS,
      valuationsRetentionMs: k.valuationsRetentionDays * DAY_MS,
      deadletterRetentionMs: k.deadletterRetentionDays * DAY_MS,
    }),
  };
}

/** DomainParams from the config: DOMAIN.md defaults, then the config's values and extra scenarios. */
export function buildParams(config: Config, catalog: Catalog): DomainParams {
  const base = defaultDomainParams(catalog);
  const d = config.domain;
  const byName = new Map<string, Scenario>();
  for (const s of DEFAULT_SCENARIOS) byName.set(s.name, s);
  const ng = byName.get('next_generation');
  if (ng) byName.set('next_generation', { ...ng, gpuResale: d.nextGeneration.resaleStep, rental: d.nextGeneration.rentalStep });
  for (const s of d.scenarios) byName.set(s.name, s);
  return {
    ...base,
    cryptoHaircut: d.cryptoHaircut,
    rentalDeflation: d.rentalDeflation,
    defaultDepreciation: d.defaultDepreciation,
    defaultLiquidity: d.defaultLiquidity,
    hysteresis: d.hysteresis,
    defaultCureHours: d.defaultCureHours,
    scenarios: [...byName.values()],
    indexRules: { ...base.indexRules, ...d.index },
    emitIntervalMs: config.processor.emitIntervalMs,
    revaluation: d.revaluation,
  };
}
