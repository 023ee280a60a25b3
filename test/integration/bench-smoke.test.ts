import { describe, expect, it } from 'vitest';
import { runPipeline } from '../../bench/pipeline.ts';
import { runFold } from '../../bench/fold.ts';
import { runLimits } from '../../bench/limits.ts';
import { runReplayBench } from '../../bench/replay-bench.ts';
import { runLatency, runMemory } from '../../bench/latency.ts';
import { runBoardBench } from '../../bench/board.ts';
import { lineOf, percentile } from '../../bench/support/harness.ts';
import { serviceEnv } from '../support/services.ts';

/**
 * Tiny runs of the service benchmarks on the real Kafka and InfluxDB, so that they cannot rot.
 * They check what each section reports and that every quote went through; never a speed.
 */
const env = serviceEnv('default');

describe('the service benchmarks', () => {
  it('pipeline runs every book size, measures the raw limits on the same topic and reports the ratios', async () => {
    const r = await runPipeline({ entityCounts: [10, 30], quotes: 120, rawAt: 30, env });
    expect(r.runs.map((x) => [x.entities, x.quotes])).toEqual([
      [10, 120],
      [30, 120],
    ]);
    for (const run of r.runs) expect(run.points).toBeGreaterThan(run.quotes);
    // the in-memory fold of the same book and quotes: one price output per quote at least
    for (const run of r.runs) expect(run.fold.outputs).toBeGreaterThan(run.quotes);
    for (const run of r.runs) expect(run.pipelineToFold).toBe(Math.round((run.quotesPerSecond / run.fold.quotesPerSecond) * 100) / 100);
    expect(r.raw.atEntities).toBe(30);
    expect(r.raw.kafkajs.messages).toBe(120);
    expect(r.raw.consumerPerformance.messages).toBe(120);
    // the raw InfluxDB writes are the very points the pipeline wrote at that book size
    expect(r.raw.influx.messages).toBe(r.runs[1].points);
    expect(Object.values(r.ratios).every((x) => Number.isFinite(x) && x > 0)).toBe(true);
    expect(r.target.pipelineToBound).toBe(0.7);
    // every run compared with the smallest of its raw bounds, measured on its own topic and points
    for (const run of r.runs) {
      expect(run.bound.bound).toBe(Math.min(run.bound.kafkajs, run.bound.influx, run.bound.fold));
      expect(r.pipelineToBound[String(run.entities)]).toBe(run.pipelineToBound);
    }
    expect(r.machine.kafka).toBe('4.1.1');
    expect(r.machine.influxdb).toMatch(/InfluxDB v1\./);
  });

  it('fold folds the same book and quotes on every path, with the same outputs, and reports the speed-ups', async () => {
    const r = await runFold({ entityCounts: [20], quotes: () => 150 });
    expect(r.runs[0].sameOutputs).toBe(true);
    expect(r.runs[0].incremental.quotes).toBe(150);
    expect(r.foldSpeedup['20']).toBe(r.runs[0].speedup);
  });

  it('limits reads N messages with kafkajs and ConsumerPerformance and writes N points to InfluxDB', async () => {
    const r = await runLimits({ messages: 500, env });
    expect([r.kafkajs.messages, r.consumerPerformance.messages, r.influx.messages]).toEqual([500, 500, 500]);
  });

  it('replay puts every generated event through the processor and extrapolates the full million', async () => {
    const r = await runReplayBench({ events: 200, entities: 20, env });
    expect(r.events).toBe(200);
    expect(r.secondsFor1M).toBeCloseTo(1_000_000 / r.eventsPerSecond, 1);
    expect(r.target).toMatchObject({ events: 1_000_000, seconds: 120, replayToRaw: 1.5, measuredAtFullSize: false, met: false });
    expect(r.raw.totalMs).toBe(r.raw.produceMs + r.raw.consumeMs + r.raw.influxMs);
    expect(r.points).toBeGreaterThan(r.events);
  });

  it('latency under an offered load finds the index, alert and valuation points of the quotes produced', async () => {
    const r = await runLatency({ entities: 20, rate: 100, seconds: 2, env });
    expect(r.processed).toBe(r.produced.quotes);
    // structure, not timing: most quotes find their index point (a quote that arrives after its
    // window closed is counted in the next window's)
    expect(r.quoteToIndex.samples).toBeGreaterThan(0);
    expect(r.quoteToIndex.samples).toBeLessThanOrEqual(r.produced.quotes);
    expect(r.quoteToAlert.samples).toBeGreaterThan(0);
    // each alert is also timed at Kafka's acknowledgement of its record on the alerts topic
    expect(r.quoteToAlertPublished.samples).toBe(r.quoteToAlert.samples);
    expect(r.windowCloseToValuation.samples).toBeGreaterThan(0);
    expect(r.quoteToIndex.p99Ms).toBeGreaterThanOrEqual(r.quoteToIndex.p50Ms);
  });

  it('memory samples the resident size of a ccm process child until it has committed its input', async () => {
    const r = await runMemory({ entities: 20, seconds: 2, env });
    expect(r.rssMb.samples).toBeGreaterThan(0);
    expect(r.rssMb.peak).toBeGreaterThanOrEqual(r.rssMb.atEnd);
    expect(r.rssMb.peak).toBeGreaterThan(10);
    expect(r.settings.command).toContain('--max-old-space-size=');
  });

  it('board plays the processor\'s outputs to no client and to clients that read everything, and reads the page\'s marks in Chromium', async () => {
    const r = await runBoardBench({ entities: 30, rate: 200, seconds: 2, clients: 3, borrowers: 100, repeats: 2 });
    expect(r.server.input).toMatchObject({ entities: 30, quotes: 400, rate: 200 });
    expect(r.server.input.outputs).toBeGreaterThan(400);
    expect(r.server.idle).toMatchObject({ clients: 0, messagesSent: 0, messagesPerClient: null });
    // each client read its snapshot and the deltas: every message the server sent
    expect(r.server.loaded.messagesPerClient).toBe(r.server.loaded.messagesSent / 3);
    expect(r.server.loaded.messagesPerClient).toBeGreaterThan(1);
    expect(r.server.loaded.deltasWithheld).toBe(0);
    expect(r.server.addedCpuMsPerStreamSecond).toBe(r.server.loaded.cpuMsPerStreamSecond - r.server.idle.cpuMsPerStreamSecond);
    expect(r.page).toMatchObject({ borrowers: 100, repeats: 2 });
    expect(r.page.applyMs.samples).toHaveLength(2);
    expect(r.page.renderMs.samples).toHaveLength(2);
    expect(r.page.deltaMegabytes).toBeGreaterThan(0);
  }, 120_000);

  it('percentiles are by nearest rank and points become escaped line protocol under another run', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(lineOf({ measurement: 'index', tags: { instrument: 'rental:H100 SXM', run: 'live' }, fields: { value: 2.5, sources: 3 }, ts: 1_700_000_000_000 }, 'r1')).toBe(
      'index,instrument=rental:H100\\ SXM,run=r1 value=2.5,sources=3 1700000000000',
    );
  });
});
