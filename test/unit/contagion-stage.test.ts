import { describe, expect, it } from 'vitest';
import { CONTAGION_CLEAR_AFTER_MS, ContagionStage, type WindowClose } from '../../src/processor/contagion-stage.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import { defaultDomainParams } from '../../src/domain/valuation/valuation.ts';
import { aCatalog, aCatalogModel, aFacility, aFleetItem, aMarket, aSheet, AT_MS } from '../support/builders.ts';

/**
 * The processor's contagion stage (src/processor/contagion-stage.ts) on the worked book of
 * test/unit/contagion.test.ts: big defaults when the H100 is at 25,000 and mid follows in round 1;
 * at 30,000 nobody defaults.
 */
const params = defaultDomainParams(aCatalog([aCatalogModel()]));
const entity = (id: string, units: number, principal: number, lender: string) => {
  const sheet = aSheet({
    id,
    cash: 0,
    fleet: [aFleetItem({ id: `${id}-gpus`, count: units })],
    facilities: [aFacility({ id: `${id}-loan`, principal, lender, collateral: [`fleet:${id}-gpus`], amortization: { kind: 'bullet' } })],
  });
  return { id, versions: [sheet] };
};
const book = [entity('big', 40_000, 900e6, 'bank-a'), entity('mid', 1000, 17.5e6, 'bank-a'), entity('safe', 1000, 10e6, 'bank-b')];
const HOUR = 3_600_000;
const close = (ws: number, resale: number, o: Partial<WindowClose> = {}): WindowClose => ({
  windowStartMs: ws,
  atMs: ws + 59_000,
  market: aMarket({ resale: { 'H100-SXM': resale } }),
  indexesMoved: true,
  newHour: false,
  ...o,
});
const stage = (owns: (e: string) => boolean = () => true, writesBook = true) => {
  const s = new ContagionStage({ params, owns, writesBook: () => writesBook });
  for (const e of book) s.setEntity(e.id, e, { initial: true });
  return s;
};
const alerts = (outs: readonly StepOutput[]) => outs.flatMap((o) => (o.kind === 'alert' ? [`${o.entity} ${o.from}->${o.to}`] : []));
const kinds = (outs: readonly StepOutput[]) => outs.map((o) => (o.kind === 'contagion_entity' ? `entity:${o.entity.entity}` : o.kind));

describe('the contagion stage', () => {
  it('takes the first cascade silently as a baseline, recorded for every entity it writes, ok ones too', () => {
    const outs = stage().atClose(close(AT_MS, 25_000));
    expect(alerts(outs)).toEqual([]);
    const states = outs.flatMap((o) => (o.kind === 'alert_state' ? [[o.key, o.status, o.since]] : []));
    expect(states).toEqual([
      ['big/-/contagion', 'ok', AT_MS],
      ['mid/-/contagion', 'exposed', AT_MS],
      ['safe/-/contagion', 'ok', AT_MS],
    ]);
    expect(kinds(outs)).toEqual(['entity:big', 'entity:mid', 'entity:safe', 'contagion_book', 'alert_state', 'alert_state', 'alert_state']);
  });

  it('raises contagion ok -> exposed for the entities of rounds >= 1 after the baseline, naming round 0 as the cause, with its alert-state', () => {
    const s = stage();
    s.atClose(close(AT_MS - HOUR, 30_000));
    const outs = s.atClose(close(AT_MS, 25_000));
    const alert = outs.find((o) => o.kind === 'alert');
    expect(alert).toMatchObject({ entity: 'mid', facility: null, rule: 'contagion', from: 'ok', to: 'exposed', at: AT_MS, cause: { defaultRound: 1, setOffBy: 'big', rounds: 1 } });
    expect(outs.find((o) => o.kind === 'alert_state')).toMatchObject({ key: 'mid/-/contagion', status: 'exposed', cureDeadline: null, since: AT_MS });
    expect(kinds(outs)).toEqual(['entity:big', 'alert', 'entity:mid', 'entity:safe', 'contagion_book', 'alert_state']);
  });

  it('a restart from the baseline records raises what the stage that never stopped raises; without them it would take a new baseline', () => {
    const first = stage();
    const baseline = first.atClose(close(AT_MS - HOUR, 30_000)).flatMap((o) => (o.kind === 'alert_state' ? [{ key: o.key, status: o.status, cureDeadline: o.cureDeadline, since: o.since }] : []));
    const expected = alerts(first.atClose(close(AT_MS, 25_000)));
    expect(expected).toEqual(['mid ok->exposed']);
    const restarted = stage();
    restarted.restore(baseline);
    expect(alerts(restarted.atClose(close(AT_MS, 25_000)))).toEqual(expected);
    expect(alerts(stage().atClose(close(AT_MS, 25_000)))).toEqual([]);
  });

  it('a borrower published later takes its own baseline, silently', () => {
    const s = new ContagionStage({ params, owns: () => true, writesBook: () => true });
    for (const e of book.slice(0, 1)) s.setEntity(e.id, e, { initial: true });
    s.setEntity('safe', book[2], { initial: true });
    s.atClose(close(AT_MS - HOUR, 30_000));
    s.setEntity('mid', book[1]);
    const outs = s.atClose(close(AT_MS, 25_000));
    expect(alerts(outs)).toEqual([]);
    expect(outs.filter((o) => o.kind === 'alert_state').map((o) => (o.kind === 'alert_state' ? [o.key, o.status] : []))).toEqual([['mid/-/contagion', 'exposed']]);
  });

  it('clears exposed -> ok only after the cascade has stayed away a day, and a return inside the day cancels the clearing', () => {
    const s = stage();
    s.atClose(close(AT_MS, 25_000));
    expect(alerts(s.atClose(close(AT_MS + HOUR, 30_000)))).toEqual([]);
    expect(alerts(s.atClose(close(AT_MS + 2 * HOUR, 25_000)))).toEqual([]);
    expect(alerts(s.atClose(close(AT_MS + 3 * HOUR, 30_000)))).toEqual([]);
    expect(alerts(s.atClose(close(AT_MS + 3 * HOUR + CONTAGION_CLEAR_AFTER_MS - 60_000, 30_000)))).toEqual([]);
    expect(alerts(s.atClose(close(AT_MS + 3 * HOUR + CONTAGION_CLEAR_AFTER_MS, 30_000)))).toEqual(['mid exposed->ok']);
  });

  it('writes only the entities it owns, and the book only when it owns entity partition 0', () => {
    const outs = stage((e) => e === 'safe', false).atClose(close(AT_MS, 25_000));
    expect(kinds(outs)).toEqual(['entity:safe', 'alert_state']);
  });

  it('keeps the status of entities it does not own, so a new owner continues it (no second alert after a rebalance)', () => {
    let owned = new Set(['big', 'safe']);
    const s = stage((e) => owned.has(e));
    s.atClose(close(AT_MS - HOUR, 30_000));
    expect(alerts(s.atClose(close(AT_MS, 25_000)))).toEqual([]);
    owned = new Set(['big', 'mid', 'safe']);
    expect(alerts(s.atClose(close(AT_MS + HOUR, 25_000)))).toEqual([]);
    // the control: a stage whose held status of mid is still ok raises it
    const fresh = stage();
    fresh.atClose(close(AT_MS - HOUR, 30_000));
    expect(alerts(fresh.atClose(close(AT_MS + HOUR, 25_000)))).toEqual(['mid ok->exposed']);
  });

  it('runs only when an index moved, the book changed or an hour began', () => {
    const s = stage();
    expect(s.atClose(close(AT_MS, 30_000, { indexesMoved: false }))).toEqual([]);
    expect(kinds(s.atClose(close(AT_MS, 30_000, { indexesMoved: false, newHour: true })))).toEqual(['entity:big', 'entity:mid', 'entity:safe', 'contagion_book', 'alert_state', 'alert_state', 'alert_state']);
    s.setEntity('safe', null);
    expect(kinds(s.atClose(close(AT_MS + 60_000, 30_000, { indexesMoved: false })))).toEqual(['contagion_book']);
  });

  it('continues from restored statuses: an entity exposed before a restart is not alerted again', () => {
    const s = stage();
    s.restore([{ key: 'mid/-/contagion', status: 'exposed', cureDeadline: null, since: AT_MS - HOUR }]);
    expect(alerts(s.atClose(close(AT_MS, 25_000)))).toEqual([]);
    expect(s.statusRecords(new Set(['mid']))).toEqual([{ key: 'mid/-/contagion', status: 'exposed', cureDeadline: null, since: AT_MS - HOUR }]);
  });

  it('skips entity records already applied when its own reading of the topic starts again from the beginning', () => {
    const s = new ContagionStage({ params, owns: () => true, writesBook: () => true });
    const rec = (offset: string, value: unknown) => ({ topic: 'e', partition: 0, offset, key: 'big', value: value === null ? null : Buffer.from(JSON.stringify(value)), ts: 0 });
    s.applyRecord(rec('0', { id: 'big', versions: book[0].versions }), { initial: true });
    s.applyRecord(rec('1', null), { initial: true });
    s.applyRecord(rec('0', { id: 'big', versions: book[0].versions }));
    expect(s.size).toBe(0);
  });
});
