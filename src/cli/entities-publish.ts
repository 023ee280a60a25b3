import { createLogger } from '../logger.ts';
import { loadCatalog, loadSheets } from '../config/load-sheets.ts';
import { buildBus, buildTopics } from './wiring.ts';
import type { Command } from 'commander';
import { loadCommandConfig } from './common.ts';
import { addConfigOption, type CommandAction } from './options.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';
import { publishEntities } from '../bus/publish-entities.ts';
import { probeServices } from './probe.ts';

/**
 * `ccm entities publish [DIR] [--config FILE]`: validates every sheet, then publishes each
 * entity's whole version list to the compacted `entities` topic (key = entity id); an entity on
 * the topic whose file is gone gets a tombstone.
 */
export function define(cmd: Command): CommandAction {
  addConfigOption(cmd).argument('[dir]', 'a directory of sheets (default: the config\'s entities, config/entities)');
  return async () => {
    const [dir] = cmd.processedArgs as [string | undefined];
    return publish(cmd.opts<{ config?: string }>().config, dir);
  };
}

async function publish(configPath: string | undefined, dirArg: string | undefined): Promise<number> {
  const config = await loadCommandConfig(configPath);
  const dir = dirArg ?? config.entities;
  const { entities, problems } = await loadSheets(dir, { catalog: await loadCatalog(config.catalog) });
  if (problems.length > 0) throw new MonitorError(problems.join('\n'), { code: ErrorCode.SHEET_INVALID, problems });
  if (!config.kafka.enabled) throw new MonitorError('ccm entities publish: Kafka is not configured (set CCM_KAFKA_BROKERS or use --config config/local.yaml)', { code: ErrorCode.USAGE });
  const logger = createLogger();
  await probeServices(config, { kafka: true });
  const bus = buildBus(config, logger);
  const { names, specs } = buildTopics(config);
  try {
    await bus.ensureTopics(specs);
    const r = await publishEntities(bus, names.entities, entities, Date.now());
    console.log(`published ${r.published} entities to ${names.entities}${r.removed.length ? `; removed ${r.removed.join(', ')}` : ''}`);
  } finally {
    await bus.close();
  }
  return 0;
}
