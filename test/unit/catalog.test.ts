import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CatalogSchema, normaliseModelName, resolveModel, toCatalog } from '../../src/domain/sheet/catalog.ts';

const raw: unknown = parse(readFileSync(resolve(process.cwd(), 'config/catalog.yaml'), 'utf8'));

describe('config/catalog.yaml', () => {
  it('validates against CatalogSchema', () => {
    const r = CatalogSchema.safeParse(raw);
    expect(r.success ? [] : r.error.issues).toEqual([]);
  });

  const file = CatalogSchema.parse(raw);
  const catalog = toCatalog(file);

  it('lists every model the monitor needs', () => {
    const required = ['H100-SXM', 'H100-PCIE', 'H200', 'B200', 'B300', 'GB200', 'GB300', 'A100-80GB', 'MI300X', 'RTX-4090', 'S19XP', 'S19J-PRO', 'S21'];
    for (const id of required) expect(catalog.models.has(id), id).toBe(true);
  });

  it('has no duplicate ids and no alias that maps to two models', () => {
    const owner = new Map<string, string>();
    const clashes: string[] = [];
    for (const m of file.models) {
      for (const a of new Set([m.id, ...m.aliases].map(normaliseModelName))) {
        const prev = owner.get(a);
        if (prev !== undefined && prev !== m.id) clashes.push(`${a}: ${prev} and ${m.id}`);
        owner.set(a, m.id);
      }
    }
    expect(clashes).toEqual([]);
    expect(new Set(file.models.map((m) => m.id)).size).toBe(file.models.length);
  });

  it('gives every ASIC a hashrate and orders generations newest-highest', () => {
    for (const m of file.models.filter((x) => x.class === 'asic')) expect(m.hashrateTh, m.id).toBeGreaterThan(0);
    const gen = (id: string): number => catalog.models.get(id)?.generation ?? -1;
    expect(gen('A100-80GB')).toBeLessThan(gen('H100-SXM'));
    expect(gen('H100-SXM')).toBeLessThan(gen('B200'));
    expect(gen('B200')).toBeLessThan(gen('GB300'));
    expect(gen('S19J-PRO')).toBeLessThan(gen('S19XP'));
    expect(gen('S19XP')).toBeLessThan(gen('S21'));
  });

  it('resolves the spellings real sources use to catalog ids', () => {
    const cases: Array<[string, string]> = [
      // vast.ai gpu_name (sources.md 1.1)
      ['H100 SXM', 'H100-SXM'],
      ['H100 PCIE', 'H100-PCIE'],
      ['H100 NVL', 'H100-NVL'],
      ['H200', 'H200'],
      ['A100 SXM4', 'A100-80GB'],
      ['RTX 4090', 'RTX-4090'],
      // RunPod gpuTypes id / displayName (sources.md 1.2)
      ['NVIDIA H100 80GB HBM3', 'H100-SXM'],
      ['NVIDIA H100 PCIe', 'H100-PCIE'],
      ['H100 PCIe', 'H100-PCIE'],
      ['NVIDIA H200', 'H200'],
      ['H200 SXM', 'H200'],
      ['NVIDIA A100-SXM4-80GB', 'A100-80GB'],
      ['AMD Instinct MI300X OAM', 'MI300X'],
      ['NVIDIA GeForce RTX 4090', 'RTX-4090'],
      // Lambda instance types (sources.md 1.3)
      ['gpu_1x_h100_sxm5', 'H100-SXM'],
      ['gpu_8x_h100_sxm5', 'H100-SXM'],
      ['gpu_1x_h100_pcie', 'H100-PCIE'],
      ['gpu_1x_a100_sxm4', 'A100-80GB'],
      ['gpu_8x_a100_80gb_sxm4', 'A100-80GB'],
      // Shadeform / Prime Intellect / TensorDock (sources.md 1.4-1.6)
      ['A100_80G', 'A100-80GB'],
      ['MI300X', 'MI300X'],
      ['H100_80GB', 'H100-SXM'],
      ['H200_141GB', 'H200'],
      ['h100-sxm5-80gb', 'H100-SXM'],
      // eBay titles and other spellings
      ['H100 SXM5', 'H100-SXM'],
      ['H100_SXM', 'H100-SXM'],
      ['h100-sxm', 'H100-SXM'],
      ['GB200 NVL72', 'GB200'],
      ['GB300 NVL72', 'GB300'],
      ['B300', 'B300'],
      // Antminer spellings
      ['S19 XP', 'S19XP'],
      ['Antminer S19j Pro', 'S19J-PRO'],
      ['S21 200T', 'S21'],
      ['Antminer S21', 'S21'],
    ];
    for (const [spelling, id] of cases) expect(resolveModel(catalog, spelling), spelling).toBe(id);
  });

  it('does not resolve a model that is not in the catalog', () => {
    expect(resolveModel(catalog, 'RTX A5000')).toBeNull();
    expect(resolveModel(catalog, 'Tesla V100')).toBeNull();
  });
});
