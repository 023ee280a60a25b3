import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema } from '../../src/config/config-schema.ts';
import { DEFAULT_INDEX_RULES, DEFAULT_SCENARIOS, DOMAIN_DEFAULTS, FALLBACK_INDEX_RULE, NEXT_GENERATION_STEPS, defaultDomainParams } from '../../src/domain/defaults.ts';
import { indexRuleFor } from '../../src/domain/market/market-index.ts';
import { emptyCatalog } from '../support/builders.ts';

/** The domain-wide defaults live in src/domain/defaults.ts; everything that states them again must agree. */
describe('domain-wide defaults', () => {
  it('config/default.yaml states the same domain defaults and conflation window', () => {
    const yaml = parse(readFileSync(new URL('../../config/default.yaml', import.meta.url), 'utf8')) as {
      processor: { emitIntervalMs: number };
      domain: Record<string, unknown>;
    };
    const { emitIntervalMs, ...domain } = DOMAIN_DEFAULTS;
    expect(yaml.processor.emitIntervalMs).toBe(emitIntervalMs);
    expect(yaml.domain).toMatchObject({ ...domain, nextGeneration: NEXT_GENERATION_STEPS });
  });

  it('the config schema fills an empty config with them', () => {
    const config = ConfigSchema.parse({});
    const { emitIntervalMs, ...domain } = DOMAIN_DEFAULTS;
    expect(config.processor.emitIntervalMs).toBe(emitIntervalMs);
    expect(config.domain).toMatchObject({ ...domain, nextGeneration: NEXT_GENERATION_STEPS });
  });

  it('defaultDomainParams is made of them, and next_generation shocks by the configured steps', () => {
    const p = defaultDomainParams(emptyCatalog());
    expect(p).toMatchObject(DOMAIN_DEFAULTS);
    expect(p.scenarios).toBe(DEFAULT_SCENARIOS);
    expect(p.indexRules).toBe(DEFAULT_INDEX_RULES);
    expect(DEFAULT_SCENARIOS.find((s) => s.name === 'next_generation')).toMatchObject({ gpuResale: NEXT_GENERATION_STEPS.resaleStep, rental: NEXT_GENERATION_STEPS.rentalStep });
  });

  it('an instrument without any rule in the params gets the default rule', () => {
    expect(indexRuleFor({ indexRules: {} }, 'rental:H100-SXM')).toBe(FALLBACK_INDEX_RULE);
    expect(FALLBACK_INDEX_RULE).toEqual(DEFAULT_INDEX_RULES.default);
  });
});
