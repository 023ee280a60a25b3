import type { Catalog } from '../../domain/sheet/catalog.ts';
import { resolveModel } from '../../domain/sheet/catalog.ts';
import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';
import { toModelInstrument } from '../model-instrument.ts';

/**
 * RunPod GraphQL `gpuTypes` (POST https://api.runpod.io/graphql; shared/notes/sources.md 1.2) -> one
 * rental quote per GPU type. Prices are already per GPU-hour. `id` is the long name
 * ("NVIDIA H100 80GB HBM3"), `displayName` the short one ("H100 SXM"): the id is resolved first.
 * A null `lowestPrice.uninterruptablePrice` means no capacity: no quote (it is not a bad row).
 * Errors come as HTTP 200 with an `errors` array. No time in the answer: receipt time.
 */
export const RUNPOD_QUERY = `query GpuTypes {
  gpuTypes {
    id displayName memoryInGb secureCloud communityCloud securePrice communityPrice
    lowestPrice(input: {gpuCount: 1}) { minimumBidPrice uninterruptablePrice stockStatus }
  }
}`;

export type RunpodPrice = 'uninterruptable' | 'secure' | 'community';

export function runpodToQuotes(body: unknown, o: { catalog: Catalog; receivedAt: number; price: RunpodPrice; source?: string }): Mapped[] {
  const source = o.source ?? 'runpod';
  const b = body as { data?: { gpuTypes?: unknown }; errors?: unknown } | null;
  if (b && Array.isArray(b.errors) && b.errors.length > 0) return [rejected(`runpod: GraphQL errors: ${JSON.stringify(b.errors).slice(0, 300)}`, body)];
  const types = b?.data?.gpuTypes;
  if (!Array.isArray(types)) return [rejected('runpod: answer has no data.gpuTypes array', body)];
  const out: Mapped[] = [];
  for (const raw of types as unknown[]) {
    const t = raw as { id?: unknown; displayName?: unknown; securePrice?: unknown; communityPrice?: unknown; lowestPrice?: { uninterruptablePrice?: unknown } | null };
    const id = typeof t?.id === 'string' ? t.id : undefined;
    const display = typeof t?.displayName === 'string' ? t.displayName : undefined;
    if (!id && !display) {
      out.push(rejected('runpod: gpu type without id or displayName', raw));
      continue;
    }
    const p = o.price === 'uninterruptable' ? t.lowestPrice?.uninterruptablePrice : o.price === 'secure' ? t.securePrice : t.communityPrice;
    if (p === null || p === undefined) continue;
    if (typeof p !== 'number') {
      out.push(rejected(`runpod: ${id ?? display} has a non-numeric price ${JSON.stringify(p)}`, raw));
      continue;
    }
    // Resolve by the long id, then the display name; an unknown model keeps the id (the stabler name).
    const name = id && resolveModel(o.catalog, id) !== null ? id : display && resolveModel(o.catalog, display) !== null ? display : (id ?? display) as string;
    const m = toModelInstrument(o.catalog, 'rental', name);
    out.push(
      quoted({ v: 1, instrument: m.instrument, price: p, source, ts: o.receivedAt, tsSource: 'receipt', receivedAt: o.receivedAt, ...(m.unknownModel ? { unknownModel: m.unknownModel } : {}) }, raw),
    );
  }
  return out;
}
