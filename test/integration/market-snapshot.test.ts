import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { influxSink, kafkaBus, quietLogger } from '../support/pipeline.ts';
import { influxClient } from '../support/influx-query.ts';
import { replay, deleteRun } from '../../src/replay/replay.ts';
import { marketSnapshot } from '../../src/replay/market-snapshot.ts';
import { writeStreamFile } from '../../src/bus/stream-file.ts';
import { simulateQuotes } from '../../src/ingest/simulate/simulate-quotes.ts';
import { loadScenariosFile } from '../../src/ingest/simulate/load-scenarios.ts';
import { loadCatalog, loadSheets } from '../../src/config/load-sheets.ts';
import { defaultDomainParams, valueEntity } from '../../src/domain/valuation/valuation.ts';
import { versionAt } from '../../src/domain/sheet/sheet-validate.ts';
import { toMarket, MarketSnapshotSchema } from '../../src/domain/market/market.ts';
import { ccm } from '../support/cli.ts';

/**
 * Explain any number (issue "The stream processor", item 8): the market of a run at the instant of
 * a valuation, read back from InfluxDB as a DOMAIN.md market file, reproduces that valuation with
 * `ccm value`'s code.
 */
const env = serviceEnv('default');
const FROM = Date.parse('2025-10-01T00:00:00Z');

describe('ccm market snapshot', () => {
  const bus = kafkaBus(env);
  const sink = influxSink(env);
  const prefix = uniquePrefix('snapshot');
  const run = `s${prefix.replace(/[^a-z0-9]/g, '').slice(-12)}`;
  afterAll(async () => {
    await deleteRun(bus, sink, prefix, run).catch(() => undefined);
    await sink.close();
    await bus.close();
  });

  it('writes the market at a valuation instant so that the valuation is reproduced exactly', async () => {
    await sink.ensure();
    const params = defaultDomainParams(await loadCatalog('config/catalog.yaml'));
    const { entities } = await loadSheets('config/entities');
    const file = join(await mkdtemp(join(tmpdir(), 'ccm-snap-')), 'calm.ndjson.gz');
    await writeStreamFile(file, simulateQuotes({ file: await loadScenariosFile(), scenario: 'calm', seed: 9, fromMs: FROM, toMs: FROM + 86_400_000 }));
    const s = await replay({ bus, sink, logger: quietLogger(), params, topicPrefix: prefix, groupId: `${prefix}g`, lookbackMs: 2 * 86_400_000, maxLatenessMs: 2000, sessionTimeoutMs: 6000, run, input: { files: [file] }, entities });
    const shown = s.lastValuations['beta-neocloud'];
    expect(shown).toBeDefined();
    const atMs = Date.parse(shown.at);
    const snapshot = MarketSnapshotSchema.parse(await marketSnapshot(influxClient(env), run, atMs));
    expect(snapshot.at).toBe(shown.at);
    expect(Object.keys(snapshot.rental).length).toBeGreaterThan(3);
    const entity = entities.find((e) => e.id === 'beta-neocloud')!;
    const again = valueEntity(versionAt(entity, atMs)!, toMarket(snapshot), atMs, params);
    for (const key of ['ltv', 'forcedSaleLtv', 'fleetValue', 'collateralValue', 'liquidationValue', 'noi12', 'dscr', 'liquidityCoverage', 'equity'] as const) {
      expect(again[key]).toBe(shown[key]);
    }
    expect(again.facilities.map((f) => f.ltv)).toEqual(shown.facilities.map((f) => f.ltv));
    expect(again.stress.map((x) => x.ltv)).toEqual(shown.stress.map((x) => x.ltv));
  });

  it('refuses, exit 2 with the reason, a run InfluxDB does not hold, an instant before its data, and ccm process --run over its name', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'ccm-snap-cli-')), 'm.json');
    const env0 = { ...process.env };
    process.env.CCM_TOPIC_PREFIX = prefix;
    try {
      const unknown = await ccm(['market', 'snapshot', '--run', `${run}x`, '--at', '2025-10-01T12:00:00Z', '--out', out]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(new RegExp(`^--run: ${run}x: no such run in InfluxDB \\(runs with indexes: .*${run}`));
      const before = await ccm(['market', 'snapshot', '--run', run, '--at', '2025-09-01T00:00:00Z', '--out', out]);
      expect(before.code).toBe(2);
      expect(before.stderr).toBe(`--at: 2025-09-01T00:00:00.000Z: run ${run} has no index at or before this instant`);
      const proc = await ccm(['process', '--run', run, '--until-end', '--no-ticks']);
      expect(proc.code).toBe(2);
      expect(proc.stderr).toMatch(new RegExp(`^--run: ${run}: a replay of this name exists`));
    } finally {
      process.env = env0;
    }
  });
});
