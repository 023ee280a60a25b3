import { InfluxDB } from 'influx';

/** Reads back what the monitor wrote, with plain InfluxQL (tests only). */
export function influxClient(env: { influxUrl: string; influxUser: string; influxPassword: string; influxDb: string }): InfluxDB {
  const u = new URL(env.influxUrl);
  return new InfluxDB({
    host: u.hostname,
    port: Number(u.port || 8086),
    protocol: u.protocol === 'https:' ? 'https' : 'http',
    username: env.influxUser,
    password: env.influxPassword,
    database: env.influxDb,
  });
}

export interface SeriesPoint {
  readonly key: string;
  readonly fields: Record<string, number>;
}

/**
 * Every point of a run in the given measurements, as `measurement|tag=v,...|ts` -> fields,
 * so two runs (or a run and an in-memory fold) can be compared exactly.
 */
export async function readRun(db: InfluxDB, run: string, measurements: readonly string[], tagKeys: Readonly<Record<string, readonly string[]>>): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  for (const m of measurements) {
    const rows = await db.query<Record<string, unknown>>(`SELECT * FROM "${m}" WHERE "run" = '${run}'`, { precision: 'ms' as never });
    for (const row of rows) {
      const ts = (row.time as Date).getTime();
      const tags = (tagKeys[m] ?? []).map((k) => `${k}=${String(row[k] ?? '')}`).join(',');
      const fields: Record<string, number> = {};
      for (const [k, v] of Object.entries(row)) {
        if (k === 'time' || k === 'run' || (tagKeys[m] ?? []).includes(k)) continue;
        if (typeof v === 'number') fields[k] = v;
      }
      out.set(`${m}|${tags}|${ts}`, fields);
    }
  }
  return out;
}
