import { ALERT_RULES, type AlertRule } from '../step/step-types.ts';

/**
 * The key of one alert state: `<entity>/<facility>/<rule>`, with facility `-` for the rules of a
 * whole entity (dscr, stale_data). The `alert-state` topic is keyed by it (prefixed with the run,
 * docs/architecture.md), and a restart or a rebalance handover reads it back, so it is encoded
 * and decoded here only. Entity and facility ids never contain '/' (sheet.ts: letters, digits,
 * dot, dash, underscore), so the three parts split back unambiguously.
 */
export interface AlertKey {
  readonly entity: string;
  /** null for the entity-level rules. */
  readonly facility: string | null;
  readonly rule: AlertRule;
}

/** The facility part of the key of an entity-level rule (and the entity of a data-quality alert, which belongs to no entity). */
export const ENTITY_FACILITY = '-';

const SEPARATOR = '/';

export function encodeAlertKey(entity: string, facility: string | null, rule: AlertRule): string {
  return `${entity}${SEPARATOR}${facility ?? ENTITY_FACILITY}${SEPARATOR}${rule}`;
}

/** The parts of a key; null when it is not three parts or names no alert rule. */
export function decodeAlertKey(key: string): AlertKey | null {
  const parts = key.split(SEPARATOR);
  if (parts.length !== 3) return null;
  const [entity, facility, rule] = parts;
  if (entity === '' || facility === '' || !isAlertRule(rule)) return null;
  return { entity, facility: facility === ENTITY_FACILITY ? null : facility, rule };
}

/** The entity of a key (null when the key does not decode). */
export function entityOfAlertKey(key: string): string | null {
  return decodeAlertKey(key)?.entity ?? null;
}

function isAlertRule(s: string): s is AlertRule {
  return (ALERT_RULES as readonly string[]).includes(s);
}
