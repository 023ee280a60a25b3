import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeAlertKey, encodeAlertKey, entityOfAlertKey, ENTITY_FACILITY } from '../../src/domain/alerts/alert-key.ts';
import { ALERT_RULES } from '../../src/domain/step/step-types.ts';
import { isWindowClosed, windowStartOf } from '../../src/domain/window.ts';

const id = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,12}$/);

describe('alert key codec', () => {
  it('encodes a facility rule as entity/facility/rule and an entity rule with facility -', () => {
    expect(encodeAlertKey('acme', 'loan-1', 'ltv')).toBe('acme/loan-1/ltv');
    expect(encodeAlertKey('acme', null, 'dscr')).toBe(`acme/${ENTITY_FACILITY}/dscr`);
  });

  it('decodes every key it encodes back to its parts', () => {
    fc.assert(
      fc.property(id, fc.option(id.filter((f) => f !== ENTITY_FACILITY), { nil: null }), fc.constantFrom(...ALERT_RULES), (entity, facility, rule) => {
        expect(decodeAlertKey(encodeAlertKey(entity, facility, rule))).toEqual({ entity, facility, rule });
      }),
    );
  });

  it('refuses keys that are not three parts or name no rule', () => {
    for (const bad of ['acme/loan-1', 'acme/loan-1/ltv/x', 'acme/loan-1/margin', '/loan-1/ltv', 'acme//ltv', '']) expect(decodeAlertKey(bad)).toBeNull();
    expect(entityOfAlertKey('acme/loan-1/nope')).toBeNull();
    expect(entityOfAlertKey('acme/-/stale_data')).toBe('acme');
  });
});

describe('conflation window rule', () => {
  it('aligns a window to floor(ts / emitIntervalMs), negative times included', () => {
    expect(windowStartOf(125_000, 60_000)).toBe(120_000);
    expect(windowStartOf(120_000, 60_000)).toBe(120_000);
    expect(windowStartOf(-1, 60_000)).toBe(-60_000);
  });

  it('calls a window closed once the clock is in a later window, and only then', () => {
    expect(isWindowClosed(120_000, 179_999, 60_000)).toBe(false);
    expect(isWindowClosed(120_000, 180_000, 60_000)).toBe(true);
    expect(isWindowClosed(120_000, -Infinity, 60_000)).toBe(false);
    fc.assert(
      fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: 1, max: 100_000 }), (k, clock, interval) => {
        const ws = k * interval;
        expect(isWindowClosed(ws, clock, interval)).toBe(ws + interval <= clock);
      }),
    );
  });
});
