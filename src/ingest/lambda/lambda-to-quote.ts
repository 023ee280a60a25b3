import type { Catalog } from '../../domain/sheet/catalog.ts';
import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';
import { toModelInstrument } from '../model-instrument.ts';

/**
 * Lambda Cloud `GET /api/v1/instance-types` (Bearer key; shared/notes/sources.md 1.3):
 * `{"data":{<name>:{"instance_type":{name, gpu_description, price_cents_per_hour, specs:{gpus}}, "regions_with_capacity_available":[...]}}}`.
 * `price_cents_per_hour` is cents per INSTANCE: per GPU-hour = cents / 100 / specs.gpus. Several instance
 * sizes of one model (gpu_1x_h100_sxm5, gpu_8x_h100_sxm5) give one quote: the lowest per-GPU price,
 * with the number of sizes as `sample`. Names follow `gpu_{N}x_{model}`; the model part is resolved
 * through the catalog (alias e.g. "h100_sxm5"), then the whole name. Sold-out sizes still count
 * (a list price). Error shape `{"error":{"message":...}}`. No time in the answer: receipt time.
 */
export function lambdaModelName(instanceName: string): string {
  const m = /^gpu_\d+x_(.+)$/.exec(instanceName);
  return m ? m[1] : instanceName;
}

export function lambdaToQuotes(body: unknown, o: { catalog: Catalog; receivedAt: number; source?: string }): Mapped[] {
  const source = o.source ?? 'lambda';
  const b = body as { data?: unknown; error?: { message?: unknown } } | null;
  if (b?.error) return [rejected(`lambda: error ${JSON.stringify(b.error.message ?? b.error)}`, body)];
  if (!b || b.data === null || typeof b.data !== 'object' || Array.isArray(b.data)) return [rejected('lambda: answer has no data map', body)];
  const out: Mapped[] = [];
  const best = new Map<string, { price: number; sizes: number; unknownModel?: string; raws: unknown[] }>();
  for (const [key, raw] of Object.entries(b.data as Record<string, unknown>)) {
    const it = (raw as { instance_type?: { name?: unknown; price_cents_per_hour?: unknown; specs?: { gpus?: unknown } } })?.instance_type;
    const name = typeof it?.name === 'string' ? it.name : key;
    const cents = it?.price_cents_per_hour;
    const gpus = it?.specs?.gpus;
    if (typeof cents !== 'number' || !Number.isFinite(cents)) {
      out.push(rejected(`lambda: ${name} has no price_cents_per_hour`, raw));
      continue;
    }
    if (typeof gpus !== 'number' || !Number.isInteger(gpus) || gpus <= 0) {
      if (!name.startsWith('gpu_')) continue; // CPU-only instance types are not GPU rentals
      out.push(rejected(`lambda: ${name} has specs.gpus ${JSON.stringify(gpus)}`, raw));
      continue;
    }
    // The model part ("h100_sxm5") first, then the whole instance name; unknown: flagged with the instance name.
    const byModel = toModelInstrument(o.catalog, 'rental', lambdaModelName(name));
    const byName = toModelInstrument(o.catalog, 'rental', name);
    const m = byModel.unknownModel === undefined ? byModel : byName.unknownModel === undefined ? byName : { instrument: byModel.instrument, unknownModel: name };
    const price = cents / 100 / gpus;
    const cur = best.get(m.instrument);
    if (!cur) best.set(m.instrument, { price, sizes: 1, unknownModel: m.unknownModel, raws: [raw] });
    else best.set(m.instrument, { ...cur, price: Math.min(cur.price, price), sizes: cur.sizes + 1, raws: [...cur.raws, raw] });
  }
  for (const [instrument, v] of best) {
    out.push(
      quoted(
        { v: 1, instrument, price: v.price, source, ts: o.receivedAt, tsSource: 'receipt', receivedAt: o.receivedAt, sample: v.sizes, ...(v.unknownModel ? { unknownModel: v.unknownModel } : {}) },
        v.raws,
      ),
    );
  }
  return out;
}
