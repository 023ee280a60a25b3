import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the processor (served on /metrics by src/server). */
export class ProcessorMetrics {
  readonly registry: Registry;
  readonly consumed: Counter;
  readonly deadLetters: Counter;
  readonly lateQuotes: Counter;
  readonly lag: Gauge;
  readonly latencyS: Histogram;
  readonly sinkBatch: Histogram;
  readonly sinkRetries: Counter;
  readonly alerts: Counter;
  readonly entitiesOwned: Gauge;

  constructor(registry = new Registry()) {
    this.registry = registry;
    this.consumed = new Counter({ name: 'ccm_messages_consumed_total', help: 'quote records consumed', labelNames: ['topic'], registers: [registry] });
    this.deadLetters = new Counter({ name: 'ccm_dead_letters_total', help: 'records sent to the dead-letter topic', labelNames: ['reason'], registers: [registry] });
    this.lateQuotes = new Counter({ name: 'ccm_late_quotes_total', help: 'quotes later than maxLatenessMs behind the watermark', registers: [registry] });
    this.lag = new Gauge({ name: 'ccm_consumer_lag', help: 'end offset minus committed offset, per partition', labelNames: ['topic', 'partition'], registers: [registry] });
    this.latencyS = new Histogram({
      name: 'ccm_processing_latency_seconds',
      help: 'from quote receipt (receivedAt) to sink acknowledgement',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.sinkBatch = new Histogram({ name: 'ccm_sink_batch_points', help: 'points per sink write', buckets: [1, 10, 100, 1000, 5000, 20000, 100000], registers: [registry] });
    this.sinkRetries = new Counter({ name: 'ccm_sink_retries_total', help: 'sink writes retried', registers: [registry] });
    this.entitiesOwned = new Gauge({ name: 'ccm_entities_owned', help: 'entities of the entity partitions this instance owns', registers: [registry] });
    this.alerts = new Counter({ name: 'ccm_alerts_total', help: 'alert events emitted', labelNames: ['rule'], registers: [registry] });
  }
}
