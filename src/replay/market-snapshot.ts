import { InfluxDB } from 'influx';
import type { MarketSnapshotFile } from '../domain/market/market.ts';
import { parseInstrument } from '../domain/market/instruments.ts';

/**
 * `ccm market snapshot`: the market state of a run at an instant, as a DOMAIN.md market file, read
 * from the `index` measurement (the last index value of each instrument at or before `atMs`), so
 * `ccm value` reproduces the valuation the board showed.
 */
export interface InfluxConnection {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export function influxFor(c: InfluxConnection): InfluxDB {
  const u = new URL(c.url);
  return new InfluxDB({ host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)), protocol: u.protocol === 'https:' ? 'https' : 'http', username: c.user, password: c.password, database: c.database });
}

const quoteIdent = (s: string) => s.replace(/'/g, "\\'");

export async function marketSnapshot(db: InfluxDB, run: string, atMs: number): Promise<MarketSnapshotFile> {
  const rows = await db.query<{ instrument: string; last: number }>(
    `SELECT last("value") FROM "index" WHERE "run" = '${quoteIdent(run)}' AND time <= ${atMs}ms GROUP BY "instrument"`,
  );
  const snap: { at: string; crypto: Record<string, number>; rental: Record<string, number>; resale: Record<string, number>; hashprice?: number } = {
    at: new Date(atMs).toISOString(),
    crypto: {},
    rental: {},
    resale: {},
  };
  for (const r of rows) {
    const i = parseInstrument(r.instrument);
    if (!i || typeof r.last !== 'number') continue;
    if (i.kind === 'crypto') snap.crypto[i.asset] = r.last;
    else if (i.kind === 'rental') snap.rental[i.model] = r.last;
    else if (i.kind === 'resale') snap.resale[i.model] = r.last;
    else snap.hashprice = r.last;
  }
  return snap;
}
