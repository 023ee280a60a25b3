/**
 * Fault tests kill and restart services, so they use their own instance (`scripts/services.sh up
 * --instance fault`, addresses from CCM_FAULT_* or from `scripts/services.sh env --instance fault`)
 * and never disturb the one the integration tests and developers use. If it does not answer, the
 * run fails at once with a message that says how to start it.
 */
import { assertServicesAnswer } from '../support/services.ts';

export default async function setup(): Promise<void> {
  await assertServicesAnswer('fault');
}
