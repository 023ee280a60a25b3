import { writeFile } from 'node:fs/promises';
import { configOption, loadCommandConfig, parseCommandArgs } from './common.ts';
import { influxFor, marketSnapshot } from '../replay/market-snapshot.ts';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/** `ccm market snapshot --run NAME --at ISO --out FILE`: a DOMAIN.md market file from InfluxDB. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs('market snapshot', argv, { ...configOption, run: { type: 'string' }, at: { type: 'string' }, out: { type: 'string' } });
  if (!values.at || !values.out) throw new MonitorError('usage: ccm market snapshot --run NAME --at ISO --out FILE', { code: ErrorCode.USAGE });
  const at = Date.parse(values.at);
  if (Number.isNaN(at)) throw new MonitorError('ccm market snapshot: --at: must be an ISO date-time', { code: ErrorCode.USAGE });
  const config = await loadCommandConfig(values.config);
  if (!config.influx.enabled) throw new MonitorError('ccm market snapshot: InfluxDB is not configured (set CCM_INFLUX_URL or use --config config/local.yaml)', { code: ErrorCode.USAGE });
  const snap = await marketSnapshot(influxFor(config.influx), values.run ?? 'live', at);
  await writeFile(values.out, JSON.stringify(snap, null, 2) + '\n');
  console.log(`market of run ${values.run ?? 'live'} at ${snap.at}: ${Object.keys(snap.crypto).length + Object.keys(snap.rental).length + Object.keys(snap.resale).length + (snap.hashprice === undefined ? 0 : 1)} indexes -> ${values.out}`);
  return 0;
}
