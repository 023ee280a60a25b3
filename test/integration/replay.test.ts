import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { expectedSeries, fold, influxSink, kafkaBus, quietLogger, TAG_KEYS } from '../support/pipeline.ts';
import { influxClient, readRun } from '../support/influx-query.ts';
import { replay, replayParams, replayTopics, listRuns, deleteRun, type ReplaySummary } from '../../src/replay/replay.ts';
import { writeStreamFile, readStreamFile } from '../../src/bus/stream-file.ts';
import { simulateQuotes } from '../../src/ingest/simulate/simulate-quotes.ts';
import { loadScenariosFile } from '../../src/ingest/simulate/load-scenarios.ts';
import { toImportRecords } from '../../src/ingest/import-csv.ts';
import { loadCatalog, loadSheets } from '../../src/config/load-sheets.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { SheetVersionSchema, type Entity } from '../../src/domain/sheet/sheet.ts';
import { isMonitorError } from '../../src/domain/errors.ts';
import { runsTable } from '../../src/cli/runs.ts';
import type { DomainParams } from '../../src/domain/params.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';
import type { InfluxSink } from '../../src/sink/influx-sink.ts';
import type { AlertEvent } from '../../src/domain/step/step-types.ts';

/**
 * Replays through the same processor (issue "Replay and scenarios", items 2, 3, 6): the same input
 * twice gives identical InfluxDB series and alert events, equal to the in-memory fold of `step`;
 * a run name is refused when it exists unless --replace; imported daily history replays with
 * staleness that follows its cadence and alerts stamped with the history's dates.
 */
const env = serviceEnv('default');
const MEASUREMENTS = ['price', 'index', 'valuation', 'facility', 'item', 'stress', 'alert'];
const FROM = Date.parse('2025-10-01T00:00:00Z');

describe('replay on the real Kafka and InfluxDB', () => {
  let bus: KafkaBus;
  let sink: InfluxSink;
  let params: DomainParams;
  let entities: Entity[];
  let file: string;
  const prefix = uniquePrefix('replay');
  const run = `r${prefix.replace(/[^a-z0-9]/g, '').slice(-12)}`;
  const db = influxClient(env);
  const common = () => ({ bus, sink, logger: quietLogger(), params, topicPrefix: prefix, groupId: `${prefix}g`, lookbackMs: 2 * 86_400_000, maxLatenessMs: 2000, sessionTimeoutMs: 6000 });

  beforeAll(async () => {
    bus = kafkaBus(env);
    sink = influxSink(env);
    await sink.ensure();
    params = defaultDomainParams(await loadCatalog('config/catalog.yaml'));
    const sheets = await loadSheets('config/entities');
    expect(sheets.problems).toEqual([]);
    entities = sheets.entities;
    const dir = await mkdtemp(join(tmpdir(), 'ccm-replay-'));
    file = join(dir, 'double-leverage.ndjson.gz');
    const scenarios = await loadScenariosFile('config/scenarios.yaml');
    // seed 1: real crossings within the two days (a run's start raises none: docs/valuation.md "The start of the alert machine")
    await writeStreamFile(file, simulateQuotes({ file: scenarios, scenario: 'double_leverage', seed: 1, fromMs: FROM, toMs: FROM + 2 * 86_400_000 }));
  });

  afterAll(async () => {
    for (const r of await listRuns(bus, sink, prefix)) await deleteRun(bus, sink, prefix, r.run).catch(() => undefined);
    await sink?.close();
    await bus?.close();
  });

  let first: ReplaySummary;
  let firstSeries: Map<string, Record<string, number>>;

  it('replays a simulated stream under its run name and equals the in-memory fold', async () => {
    first = await replay({ ...common(), run, input: { files: [file] }, entities });
    expect(first.events).toBeGreaterThan(1000);
    expect(first.alerts.length).toBeGreaterThan(0);
    const records = await bus.readToEnd(replayTopics(prefix, run).quotes);
    const rp = await replayParams(params, readStreamFile(file));
    const outputs = fold(rp.params, entities, records);
    firstSeries = await readRun(db, run, MEASUREMENTS, TAG_KEYS);
    const expected = expectedSeries(outputs, run, MEASUREMENTS);
    expect([...expected.keys()].filter((k) => !firstSeries.has(k)).slice(0, 3)).toEqual([]);
    expect([...firstSeries.keys()].filter((k) => !expected.has(k)).slice(0, 3)).toEqual([]);
    const mismatch = [...expected].find(([k, f]) => Object.entries(f).some(([n, v]) => firstSeries.get(k)?.[n] !== v));
    expect(mismatch).toBeUndefined();
    const foldAlerts = outputs.filter((o) => o.kind === 'alert').map((o) => (o as AlertEvent).eventId);
    expect(first.alerts.map((a) => a.eventId)).toEqual(foldAlerts);
  });

  it('refuses a run name that exists, and --replace gives identical series and alerts', async () => {
    const refused = await replay({ ...common(), run, input: { files: [file] }, entities }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMonitorError(refused) && refused.code).toBe('RUN_EXISTS');
    const again = await replay({ ...common(), run, input: { files: [file] }, entities, replace: true });
    expect(again.alerts).toEqual(first.alerts);
    expect(again.lastValuations).toEqual(first.lastValuations);
    const series = await readRun(db, run, MEASUREMENTS, TAG_KEYS);
    expect(series.size).toBe(firstSeries.size);
    expect([...series].every(([k, f]) => JSON.stringify(f) === JSON.stringify(firstSeries.get(k)))).toBe(true);
  });

  it('lists and deletes runs with their topics and series', async () => {
    expect((await listRuns(bus, sink, prefix)).find((r) => r.run === run)).toEqual({ run, topic: true, series: true });
    // what a user picks a run by (issue 14 point 6): events, event-time range, alerts, when made, size
    const described = (await listRuns(bus, sink, prefix, { describe: true })).find((r) => r.run === run);
    expect(described?.info).toMatchObject({ events: first.events, alerts: first.alerts.length, firstMs: first.firstTs, lastMs: first.lastTs });
    expect(described?.info?.madeMs).toBeGreaterThan(Date.now() - 30 * 60_000);
    expect(described?.info?.points).toBeGreaterThan(first.events);
    const table = runsTable([described!]).split('\n');
    expect(table[0]).toMatch(/^run\s+events\s+from \(UTC\)\s+to \(UTC\)\s+alerts\s+made \(UTC\)\s+points\s+replay topic$/);
    expect(table[1]).toContain(first.events.toLocaleString('en-US'));
    expect(table[1]).toContain('2025-10-01 00:00');
    // no silent no-op (issue 14 point 5): an unknown run is refused
    const refused = await deleteRun(bus, sink, prefix, `${run}-none`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMonitorError(refused) && [refused.code, refused.message]).toEqual(['USAGE', expect.stringMatching(new RegExp(`^runs delete: ${run}-none: no such run \\(runs: .*${run}`))]);
    await deleteRun(bus, sink, prefix, run);
    expect((await listRuns(bus, sink, prefix)).find((r) => r.run === run)).toBeUndefined();
    expect((await readRun(db, run, ['price'], TAG_KEYS)).size).toBe(0);
  });

  it('replays imported daily history together, stale only where the history has gaps, with alerts dated in the history', async () => {
    const data = resolve(process.cwd(), '../shared/data/crypto');
    const dir = await mkdtemp(join(tmpdir(), 'ccm-import-'));
    const files: string[] = [];
    for (const [instrument, name] of [
      ['BTC', 'BTCUSDT_1d_binance_2018-03-17_2026-03-14.csv'],
      ['ETH', 'ETHUSDT_1d_binance_2018-03-17_2026-03-14.csv'],
    ] as const) {
      const text = await readFile(join(data, name), 'utf8');
      const { records } = toImportRecords(text, { instrument, source: 'binance-daily', dropLast: true });
      const out = join(dir, `${instrument}.ndjson.gz`);
      await writeStreamFile(out, records.filter((r) => r.ts >= Date.parse('2021-09-01') && r.ts < Date.parse('2023-01-01')));
      files.push(out);
    }
    // A 2021 crypto lender's book: BTC and ETH pledged to a bullet loan sized at the top of the market.
    const lender: Entity = {
      id: 'crypto-borrower-2021',
      versions: [
        SheetVersionSchema.parse({
          id: 'crypto-borrower-2021',
          name: 'Crypto-backed borrower (test)',
          type: 'miner',
          cash: 5_000_000,
          holdings: { BTC: 1000, ETH: 10000 },
          facilities: [
            {
              id: 'coin-loan',
              kind: 'crypto_loan',
              principal: 50_000_000,
              rate: 0.08,
              start: '2021-06-01',
              maturity: '2024-06-01',
              collateral: ['holdings:BTC', 'holdings:ETH'],
              covenants: { ltvWarn: 0.5, ltvMarginCall: 0.6, ltvLiquidation: 0.75 },
            },
          ],
        }),
      ],
    };
    const history = `h${run}`;
    const s = await replay({ ...common(), run: history, input: { files }, entities: [lender] });
    expect(s.events).toBe(2 * 487);
    const ltv = s.alerts.filter((a) => a.rule === 'ltv');
    // 2021-11 top: LTV 50M / (69M + 48M) = 0.43, far from the lines; 2022's fall crossed them all
    expect(ltv.map((a) => a.to)).toEqual(expect.arrayContaining(['warn', 'margin_call', 'liquidation']));
    // every alert carries the date of the daily candle that caused it
    expect(ltv.every((a) => a.at % 86_400_000 === 0 && a.at >= Date.parse('2021-09-01') && a.at < Date.parse('2023-01-01'))).toBe(true);
    expect(ltv.find((a) => a.to === 'liquidation')!.at).toBeGreaterThan(Date.parse('2022-01-01'));
    // daily quotes from one source: no index goes stale between two days (only the very first
    // instant, before both files have given their first price, lacks an index)
    expect(s.alerts.filter((a) => a.rule === 'stale_data' && a.to === 'stale' && a.at > s.firstTs!)).toEqual([]);
  });
});
