import { z } from 'zod';
import { LiquiditySchema } from './sheet.ts';

/**
 * The catalog of GPU and ASIC models (config/catalog.yaml): catalog id, the aliases sources use,
 * release date, economic life, depreciation and liquidity defaults, and the generation (for the
 * `next_generation` stress scenario).
 */
export const CatalogModelSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  class: z.enum(['gpu', 'asic']),
  vendor: z.string().optional(),
  /** The spellings sources use; matched case-insensitively after normalisation. */
  aliases: z.array(z.string()).default([]),
  releaseDate: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/),
  /** Months from release the asset earns its keep (not the accounting life). */
  economicLifeMonths: z.number().int().positive(),
  depreciation: z.number().min(0).lt(1),
  liquidity: LiquiditySchema,
  /** Ordinal of the model's generation within its class (higher is newer). */
  generation: z.number().int().nonnegative(),
  hashrateTh: z.number().positive().optional(),
});
export type CatalogModel = z.infer<typeof CatalogModelSchema>;

export const CatalogSchema = z.strictObject({ models: z.array(CatalogModelSchema).min(1) });
export type CatalogFile = z.infer<typeof CatalogSchema>;

export interface Catalog {
  readonly models: ReadonlyMap<string, CatalogModel>;
  /** normalised alias -> catalog id */
  readonly aliases: ReadonlyMap<string, string>;
}

/** Normalises a model spelling: upper case, with spaces, underscores and dashes removed. */
export const normaliseModelName = (s: string): string => s.toUpperCase().replace(/[\s_\-/]+/g, '');

export function toCatalog(file: CatalogFile): Catalog {
  const models = new Map<string, CatalogModel>();
  const aliases = new Map<string, string>();
  for (const m of file.models) {
    models.set(m.id, m);
    for (const a of [m.id, ...m.aliases]) aliases.set(normaliseModelName(a), m.id);
  }
  return { models, aliases };
}

/** Maps a source's spelling of a model to a catalog id, or null when it is unknown. */
export function resolveModel(catalog: Catalog, name: string): string | null {
  if (catalog.models.has(name)) return name;
  return catalog.aliases.get(normaliseModelName(name)) ?? null;
}
