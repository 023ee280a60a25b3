import { probeKafka } from '../bus/kafka-probe.ts';
import type { Config } from '../config/config-schema.ts';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import type { Sink } from '../sink/sink.ts';
import { redactUrl } from '../redact.ts';

/**
 * Before a command that needs Kafka or InfluxDB starts its clients: a quick probe of each, and on
 * no answer one line that says what to do (exit 1, docs/cli.md), within 10 s rather than after the
 * clients' two minutes of retries.
 */
export const KAFKA_PROBE_MS = 8_000;
export const INFLUX_PROBE_MS = 5_000;

export async function probeServices(config: Config, o: { readonly kafka?: boolean; readonly sink?: Sink }): Promise<void> {
  if (o.kafka && config.kafka.enabled) {
    const brokers = config.kafka.brokers;
    try {
      await probeKafka({ brokers, clientId: config.kafka.clientId, ssl: config.kafka.ssl, sasl: config.kafka.sasl, timeoutMs: KAFKA_PROBE_MS });
    } catch (e) {
      throw new MonitorError(
        `Kafka at ${brokers.join(',')} does not answer (${(e as Error).message}): start the local services with scripts/services.sh up and eval "$(scripts/services.sh env)", or set CCM_KAFKA_BROKERS to your brokers`,
        { code: ErrorCode.SERVICE_UNAVAILABLE },
      );
    }
  }
  if (o.sink && config.influx.enabled) {
    const up = await Promise.race([o.sink.ping(), new Promise<boolean>((r) => setTimeout(() => r(false), INFLUX_PROBE_MS).unref())]);
    if (!up) {
      throw new MonitorError(
        `InfluxDB at ${redactUrl(config.influx.url)} does not answer within ${INFLUX_PROBE_MS / 1000} s: start the local services with scripts/services.sh up and eval "$(scripts/services.sh env)", or set CCM_INFLUX_URL`,
        { code: ErrorCode.SERVICE_UNAVAILABLE },
      );
    }
  }
}
