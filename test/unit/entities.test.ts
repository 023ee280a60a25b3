import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CatalogSchema, toCatalog } from '../../src/domain/sheet/catalog.ts';
import { SheetFileSchema, type SheetVersion } from '../../src/domain/sheet/sheet.ts';
import { validateSheetFile } from '../../src/domain/sheet/sheet-validate.ts';

const dir = resolve(process.cwd(), 'config/entities');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const catalog = toCatalog(CatalogSchema.parse(parse(readFileSync(resolve(process.cwd(), 'config/catalog.yaml'), 'utf8'))));

function versionsOf(file: string): SheetVersion[] {
  const parsed = SheetFileSchema.parse(parse(readFileSync(resolve(dir, file), 'utf8')));
  return 'versions' in parsed ? parsed.versions : [parsed];
}

describe('config/entities', () => {
  it('holds nine sheets: six shaped like real borrowers, three composites for the contagion demo', () => {
    expect(files).toHaveLength(9);
  });

  // The fire-sale contagion demo (issue 15): borrowers sharing the H100 with a miner whose BTC loan
  // sits near its liquidation line (docs/entities.md "The contagion composites").
  const COMPOSITES = ['delta-neocloud.yaml', 'epsilon-gpu-lessor.yaml', 'gamma-hybrid-miner.yaml'];

  it.each(files)('%s validates against SheetFileSchema', (file) => {
    const r = SheetFileSchema.safeParse(parse(readFileSync(resolve(dir, file), 'utf8')));
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });

  it.each(files)('%s passes validateSheetFile (cross-field rules: pledges, thresholds, versions)', (file) => {
    const r = validateSheetFile(parse(readFileSync(resolve(dir, file), 'utf8')), `entities/${file}`);
    expect(r.ok ? [] : r.problems).toEqual([]);
  });

  it.each(files)('%s is named after its id, says it is illustrative and dates its filings (or says it is a composite)', (file) => {
    for (const v of versionsOf(file)) {
      expect(`${v.id}.yaml`).toBe(file);
      expect(v.name).toMatch(COMPOSITES.includes(file) ? /\(illustrative\)$/ : /illustrative; public filings as of \d{4}-\d{2}-\d{2}/);
    }
  });

  it.each(files)('%s uses catalog ids for every model and pledges only what exists', (file) => {
    for (const v of versionsOf(file)) {
      const items = new Set(v.fleet.map((i) => i.id));
      for (const item of v.fleet) {
        expect(catalog.models.has(item.model), item.model).toBe(true);
        expect(catalog.models.get(item.model)?.class, item.id).toBe(item.class);
      }
      for (const f of v.facilities) {
        for (const c of f.collateral) if (c.startsWith('fleet:')) expect(items.has(c.slice('fleet:'.length)), c).toBe(true);
        expect(Date.parse(f.start)).toBeLessThan(Date.parse(f.maturity));
      }
    }
  });

  it('has four neoclouds and four miners with GPU fleets, the composites included', () => {
    const latest = files.map((f) => versionsOf(f).at(-1) as SheetVersion);
    expect(latest.filter((v) => v.type === 'neocloud')).toHaveLength(4);
    const minersWithGpus = latest.filter((v) => v.type === 'miner' && v.fleet.some((i) => i.class === 'gpu' && i.count > 0));
    expect(minersWithGpus).toHaveLength(4);
  });

  it('shares the H100 among the composites, so that one default moves the others (the contagion demo)', () => {
    const h100 = COMPOSITES.map((f) => (versionsOf(f).at(-1) as SheetVersion).fleet.filter((i) => i.model === 'H100-SXM').reduce((n, i) => n + i.count, 0));
    expect(h100.every((n) => n > 0)).toBe(true);
  });

  it('has one 2022 miner with ASIC-backed loans in versions across 2022', () => {
    const withVersions = files.filter((f) => versionsOf(f).length > 1);
    expect(withVersions).toEqual(['asic-miner-2022.yaml']);
    const versions = versionsOf('asic-miner-2022.yaml');
    expect(versions.length).toBeGreaterThanOrEqual(3);
    const from = versions.map((v) => v.effectiveFrom ?? '');
    expect(from.every((d) => d.startsWith('2022-'))).toBe(true);
    expect([...from].sort()).toEqual(from);
    const v = versions[0];
    const asicItems = new Set(v.fleet.filter((i) => i.class === 'asic').map((i) => `fleet:${i.id}`));
    expect(v.facilities.some((f) => f.kind === 'equipment_loan' && f.collateral.some((c) => asicItems.has(c)))).toBe(true);
  });
});
