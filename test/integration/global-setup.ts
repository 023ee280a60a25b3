/**
 * Integration tests run against the real Kafka and InfluxDB of `scripts/services.sh up` (instance
 * `default`, addresses from CCM_* or from `scripts/services.sh env`). If they do not answer, the
 * run fails at once with a message that says how to start them; nothing is skipped or mocked.
 */
import { assertServicesAnswer } from '../support/services.ts';

export default async function setup(): Promise<void> {
  await assertServicesAnswer('default');
}
