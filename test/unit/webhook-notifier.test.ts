import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { signBody, toSlackMessage } from '../../src/processor/webhook-notifier.ts';

const alert = {
  eventId: 'abc123',
  run: 'live',
  entity: 'acme',
  facility: 'loan-1',
  rule: 'ltv',
  from: 'warn',
  to: 'margin_call',
  value: 0.81234,
  threshold: 0.75,
  at: Date.UTC(2025, 9, 1, 12),
};

describe('webhook notifier formats', () => {
  it('signs a body as sha256=<hex HMAC-SHA256 of the body with the secret>', () => {
    const body = JSON.stringify(alert);
    expect(signBody('s3cret', body)).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(signBody('other', body)).not.toBe(signBody('s3cret', body));
  });

  it('gives Slack a single text line naming the entity, facility, transition, value, threshold, time and run', () => {
    const m = toSlackMessage(alert);
    expect(Object.keys(m)).toEqual(['text']);
    expect(m.text).toContain('acme / loan-1');
    expect(m.text).toContain('ltv warn → margin_call');
    expect(m.text).toContain('0.8123');
    expect(m.text).toContain('threshold 0.75');
    expect(m.text).toContain('2025-10-01T12:00:00.000Z');
    expect(m.text).toContain('[run live]');
  });

  it('names only the entity for entity rules and says n/a for a missing value', () => {
    const m = toSlackMessage({ ...alert, facility: null, rule: 'stale_data', from: 'ok', to: 'stale', value: null, threshold: null });
    expect(m.text).toContain(': stale_data ok → stale, value n/a at');
    expect(m.text).not.toContain('acme /');
  });
});
