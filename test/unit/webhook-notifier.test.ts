import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { dispatch } from '../../src/cli/ccm.ts';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { ConfigSchema } from '../../src/config/config-schema.ts';
import { isMonitorError, exitCodeOf } from '../../src/domain/errors.ts';
import { createLogger } from '../../src/logger.ts';
import {
  WebhookNotifier,
  signWebhook,
  toSlackMessage,
  verifyWebhookSignature,
  webhookSettings,
  WEBHOOK_HEADER,
  WEBHOOK_METRIC,
} from '../../src/notify/index.ts';
import { startHttpServer } from '../../src/server/http-server.ts';

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

const SECRET = 'whsec-0123456789abcdef';
const NOW_MS = Date.UTC(2026, 11, 3, 9, 0, 0);
const NOW_S = NOW_MS / 1000;

describe('webhook signature', () => {
  it('signs the time of sending with the body as t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    const body = JSON.stringify(alert);
    const expected = createHmac('sha256', SECRET).update(`${NOW_S}.${body}`).digest('hex');
    expect(signWebhook(SECRET, body, NOW_S)).toBe(`t=${NOW_S},v1=${expected}`);
  });

  it('verifies a signature made with the same secret, time and raw body', () => {
    const body = JSON.stringify(alert);
    expect(verifyWebhookSignature({ body, header: signWebhook(SECRET, body, NOW_S), secret: SECRET, nowMs: NOW_MS })).toEqual({ ok: true, timestampS: NOW_S });
    expect(verifyWebhookSignature({ body: Buffer.from(body), header: signWebhook(SECRET, body, NOW_S), secret: SECRET, nowMs: NOW_MS + 299_000 }).ok).toBe(true);
  });

  it('refuses a changed body, another secret, a forged timestamp and a replay outside the tolerance', () => {
    const body = JSON.stringify(alert);
    const header = signWebhook(SECRET, body, NOW_S);
    expect(verifyWebhookSignature({ body: body.replace('0.81234', '0.5'), header, secret: SECRET, nowMs: NOW_MS })).toEqual({ ok: false, reason: 'signature_mismatch' });
    expect(verifyWebhookSignature({ body, header, secret: 'another-secret-xxxxxxxx', nowMs: NOW_MS })).toEqual({ ok: false, reason: 'signature_mismatch' });
    // the timestamp is signed: moving it forward to pass the tolerance breaks the signature
    const forged = header.replace(`t=${NOW_S}`, `t=${NOW_S + 3600}`);
    expect(verifyWebhookSignature({ body, header: forged, secret: SECRET, nowMs: NOW_MS + 3600_000 })).toEqual({ ok: false, reason: 'signature_mismatch' });
    expect(verifyWebhookSignature({ body, header, secret: SECRET, nowMs: NOW_MS + 301_000 })).toEqual({ ok: false, reason: 'timestamp_outside_tolerance' });
    expect(verifyWebhookSignature({ body, header, secret: SECRET, nowMs: NOW_MS - 301_000 })).toEqual({ ok: false, reason: 'timestamp_outside_tolerance' });
    expect(verifyWebhookSignature({ body, header, secret: SECRET, nowMs: NOW_MS + 3600_000, toleranceS: 7200 }).ok).toBe(true);
  });

  it('says what is wrong with a missing or malformed header, without throwing', () => {
    const body = '{}';
    expect(verifyWebhookSignature({ body, header: undefined, secret: SECRET })).toEqual({ ok: false, reason: 'missing_header' });
    for (const header of ['sha256=abc', `t=${NOW_S}`, `v1=${'a'.repeat(64)}`, `t=soon,v1=${'a'.repeat(64)}`, `t=${NOW_S},v1=abc`, ',,,']) {
      expect(verifyWebhookSignature({ body, header, secret: SECRET, nowMs: NOW_MS }), header).toEqual({ ok: false, reason: 'malformed_header' });
    }
  });

  it('accepts either of two secrets while one is rotated, and any of several v1 entries', () => {
    const body = '{"a":1}';
    const header = signWebhook('old-secret-0123456789', body, NOW_S);
    expect(verifyWebhookSignature({ body, header, secret: [SECRET, 'old-secret-0123456789'], nowMs: NOW_MS }).ok).toBe(true);
    const both = `${signWebhook(SECRET, body, NOW_S)},v1=${'0'.repeat(64)}`;
    expect(verifyWebhookSignature({ body, header: both, secret: SECRET, nowMs: NOW_MS }).ok).toBe(true);
  });
});

describe('webhook settings', () => {
  const config = (url: string) => ConfigSchema.parse({ webhook: { url } });

  it('are off without a URL', () => {
    expect(webhookSettings(config(''), {})).toBeNull();
  });

  it('refuse a webhook URL without a secret, or with a short one, as bad configuration (exit 2)', () => {
    for (const [env, reason] of [
      [{}, 'environment CCM_WEBHOOK_SECRET: is required when webhook.url is set'],
      [{ CCM_WEBHOOK_SECRET: 'short' }, 'environment CCM_WEBHOOK_SECRET: must be at least 16 characters'],
    ] as const) {
      let caught: unknown = null;
      try {
        webhookSettings(config('https://lender.example/hooks/ccm'), env);
      } catch (e) {
        caught = e;
      }
      expect(isMonitorError(caught) && caught.message).toContain(reason);
      expect(exitCodeOf(caught)).toBe(2);
    }
    expect(webhookSettings(config('https://lender.example/hooks/ccm'), { CCM_WEBHOOK_SECRET: SECRET })).toMatchObject({ url: 'https://lender.example/hooks/ccm', secret: SECRET, backoff: { initialMs: 500, maxMs: 60_000 } });
  });

  it('make ccm process exit 2 before it touches Kafka when the URL has no secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccm-webhook-'));
    const file = join(dir, 'hook.yaml');
    // Kafka on a port nobody answers: reaching it would hang or fail otherwise than with exit 2
    writeFileSync(file, 'kafka: { enabled: true, brokers: ["127.0.0.1:9"] }\nwebhook: { url: "https://lender.example/hooks/ccm" }\n');
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    vi.stubEnv('CCM_WEBHOOK_SECRET', '');
    try {
      expect(await dispatch(['process', '--config', file])).toBe(2);
      expect(lines.join('\n')).toContain('environment CCM_WEBHOOK_SECRET: is required when webhook.url is set');
    } finally {
      vi.restoreAllMocks();
      vi.unstubAllEnvs();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuse a URL that is not http(s) in the config file', () => {
    expect(ConfigSchema.safeParse({ webhook: { url: 'ftp://x' } }).success).toBe(false);
  });
});

describe('Slack format', () => {
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

/** A receiver the test scripts: its answer per request, every request kept. */
interface Sent {
  readonly body: string;
  readonly signature: string;
  readonly key: string;
  readonly atMs: number;
}

const TOPICS = { alerts: 'u.alerts', deadletter: 'u.deadletter', delivered: 'u.webhook-delivered' };
const anAlert = (entity: string, n: number, run = 'live') => ({ v: 1, run, eventId: `${entity}-${n}`, entity, facility: 'loan', rule: 'ltv', from: 'ok', to: 'warn', value: 0.7, threshold: 0.65, at: NOW_MS + n });

async function setup(answer: (req: Sent, i: number) => Response | Promise<Response> | 'refused', extra: { backoffMaxMs?: number } = {}) {
  const bus = new MemoryBus();
  await bus.ensureTopics([
    { topic: TOPICS.alerts, partitions: 3 },
    { topic: TOPICS.deadletter, partitions: 1 },
    { topic: TOPICS.delivered, partitions: 1 },
  ]);
  // A virtual clock that the notifier's waits move: an hour of backoff passes at once.
  let nowMs = NOW_MS;
  const clock = () => nowMs;
  const sent: Sent[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    const h = init.headers as Record<string, string>;
    const req: Sent = { body: String(init.body), signature: h[WEBHOOK_HEADER.signature], key: h[WEBHOOK_HEADER.idempotencyKey], atMs: nowMs };
    sent.push(req);
    const a = await answer(req, sent.length - 1);
    if (a === 'refused') throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    return a;
  }) as unknown as typeof fetch;
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', stream: { write: (s: string) => void lines.push(s) }, env: {} });
  const make = (group = 'g') =>
    new WebhookNotifier({
      bus,
      logger,
      topics: TOPICS,
      groupId: group,
      url: 'http://receiver.test/hook',
      secret: SECRET,
      format: 'json',
      timeoutMs: 1000,
      backoff: { initialMs: 500, maxMs: extra.backoffMaxMs ?? 60_000 },
      clock,
      fetchImpl,
      fromBeginning: true,
      sleep: async (ms: number, signal?: AbortSignal) => {
        if (signal?.aborted) return false;
        nowMs += ms;
        await new Promise((r) => setImmediate(r));
        return !signal?.aborted;
      },
    });
  return { bus, sent, lines, make, clock: () => nowMs };
}

async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ok = () => new Response('ok', { status: 200 });

describe('WebhookNotifier', () => {
  it('retries a receiver that is down for an hour and then delivers every alert once, in order per entity', async () => {
    const upAt = NOW_MS + 3600_000;
    const t = await setup((req) => (req.atMs < upAt ? 'refused' : ok()));
    const alerts = [...[1, 2, 3].map((n) => anAlert('acme', n)), ...[1, 2].map((n) => anAlert('zeta', n)), anAlert('acme', 4)];
    await t.bus.publish(alerts.map((a) => ({ topic: TOPICS.alerts, key: a.entity, value: a, ts: a.at })));
    const n = t.make();
    await n.start();
    await until(() => n.deliveredCount === alerts.length, 'every alert delivered');
    await n.stop();
    const accepted = t.sent.filter((s) => s.atMs >= upAt);
    expect(accepted.map((s) => s.key).sort()).toEqual(alerts.map((a) => a.eventId).sort());
    for (const entity of ['acme', 'zeta']) {
      const mine = accepted.filter((s) => s.key.startsWith(entity)).map((s) => s.key);
      expect(mine).toEqual(alerts.filter((a) => a.entity === entity).map((a) => a.eventId));
    }
    // the waits double from 0.5 s and stop growing at the cap: an hour takes about 60 + 8 attempts, not 5
    const tries = t.sent.filter((s) => s.atMs < upAt).length;
    expect(tries).toBeGreaterThan(60);
    expect(tries).toBeLessThan(80);
    const gaps = t.sent.filter((s) => s.atMs < upAt).map((s, i, all) => (i === 0 ? 0 : s.atMs - all[i - 1].atMs));
    expect(Math.max(...gaps)).toBe(60_000);
    // one warning when the outage started (and one per five minutes), not one per attempt
    const warnings = t.lines.filter((l) => l.includes('"level":40') && l.includes('webhook'));
    expect(warnings.length).toBeGreaterThanOrEqual(12);
    expect(warnings.length).toBeLessThanOrEqual(13);
    expect(t.lines.filter((l) => l.includes('webhook receiver answers again'))).toHaveLength(1);
    expect(n.error).toBeNull();
  });

  it('signs each attempt with its own time, so a retry an hour later still verifies', async () => {
    let fails = 3;
    const t = await setup(() => (fails-- > 0 ? new Response('busy', { status: 503 }) : ok()), { backoffMaxMs: 3600_000 });
    const a = anAlert('acme', 1);
    await t.bus.publish([{ topic: TOPICS.alerts, key: 'acme', value: a, ts: a.at }]);
    const n = t.make();
    await n.start();
    await until(() => n.deliveredCount === 1, 'the alert delivered');
    await n.stop();
    for (const s of t.sent) {
      expect(s.key).toBe(a.eventId);
      expect(verifyWebhookSignature({ body: s.body, header: s.signature, secret: SECRET, nowMs: s.atMs })).toMatchObject({ ok: true, timestampS: Math.floor(s.atMs / 1000) });
    }
    expect(t.sent.at(-1)!.atMs - t.sent[0].atMs).toBeGreaterThan(0);
  });

  it('dead-letters a record that is not JSON, one that is not an alert, and an alert the receiver refuses (400), and keeps delivering', async () => {
    const t = await setup((req) => (req.key === 'acme-2' ? new Response('unknown facility', { status: 400 }) : ok()));
    await t.bus.publishRaw([
      { topic: TOPICS.alerts, key: 'acme', value: 'not json {', ts: NOW_MS },
      { topic: TOPICS.alerts, key: 'acme', value: JSON.stringify({ v: 1, run: 'live', eventId: 'x' }), ts: NOW_MS },
    ]);
    const alerts = [1, 2, 3].map((n) => anAlert('acme', n));
    await t.bus.publish(alerts.map((a) => ({ topic: TOPICS.alerts, key: a.entity, value: a, ts: a.at })));
    const n = t.make();
    await n.start();
    await until(async () => (await t.bus.readToEnd(TOPICS.deadletter)).length === 3 && n.deliveredCount === 2, 'three dead letters and two deliveries');
    await n.stop();
    const dead = (await t.bus.readToEnd(TOPICS.deadletter)).map((r) => JSON.parse(String(r.value)) as { reason: string; stage: string; raw: string });
    expect(dead.map((d) => d.reason)).toEqual(['not JSON', expect.stringMatching(/^not an alert: /), 'receiver refused the alert: HTTP 400 unknown facility']);
    expect(dead.every((d) => d.stage === 'webhook')).toBe(true);
    expect(dead[0].raw).toBe('not json {');
    expect(t.sent.filter((s) => s.key !== 'acme-2').map((s) => s.key)).toEqual(['acme-1', 'acme-3']);
    expect(n.error).toBeNull();
    expect(await n.registry.getSingleMetricAsString(WEBHOOK_METRIC.deadLetters)).toContain('reason="not JSON"} 1');
  });

  it('never sends an eventId twice: across a restart, and when the processor publishes the same alert again later', async () => {
    const t = await setup(() => ok());
    const first = [1, 2].map((n) => anAlert('acme', n));
    await t.bus.publish(first.map((a) => ({ topic: TOPICS.alerts, key: a.entity, value: a, ts: a.at })));
    const a = t.make();
    await a.start();
    await until(() => a.deliveredCount === 2, 'two deliveries');
    await a.stop();
    // the processor crashed and published acme-2 again (same eventId), then a new alert
    const again = [anAlert('acme', 2), anAlert('acme', 3)];
    await t.bus.publish(again.map((x) => ({ topic: TOPICS.alerts, key: x.entity, value: x, ts: x.at })));
    const b = t.make();
    await b.start();
    await until(() => b.deliveredCount === 1, 'the new alert delivered');
    await until(async () => (await t.bus.committedOffsets('g', TOPICS.alerts)).reduce((s, o) => s + Math.max(0, Number(o.offset)), 0) === 4, 'all four records committed');
    await b.stop();
    expect(t.sent.map((s) => s.key)).toEqual(['acme-1', 'acme-2', 'acme-3']);
    expect(await b.registry.getSingleMetricAsString(WEBHOOK_METRIC.duplicates)).toContain(`${WEBHOOK_METRIC.duplicates} 1`);
  });

  it('delivers only the alerts of its run', async () => {
    const t = await setup(() => ok());
    const mine = anAlert('acme', 1);
    const other = anAlert('acme', 2, 'replay-x');
    await t.bus.publish([mine, other].map((a) => ({ topic: TOPICS.alerts, key: a.entity, value: a, ts: a.at })));
    const n = t.make();
    await n.start();
    await until(async () => (await t.bus.committedOffsets('g', TOPICS.alerts)).reduce((s, o) => s + Math.max(0, Number(o.offset)), 0) === 2, 'both records committed');
    await n.stop();
    expect(t.sent.map((s) => s.key)).toEqual(['acme-1']);
  });

  it('stops waiting for a receiver when it is stopped, without committing the alert it was sending', async () => {
    const t = await setup(() => 'refused');
    const a = anAlert('acme', 1);
    await t.bus.publish([{ topic: TOPICS.alerts, key: 'acme', value: a, ts: a.at }]);
    const n = t.make();
    await n.start();
    await until(() => t.sent.length >= 3, 'three failed attempts');
    await n.stop();
    expect((await t.bus.committedOffsets('g', TOPICS.alerts)).every((o) => Number(o.offset) <= 0)).toBe(true);
    expect(n.error).toBeNull();
  });

  it('reports a crash for good through failed and error, which /healthz turns into 503 failed', async () => {
    const t = await setup(() => ok());
    const a = anAlert('acme', 1);
    await t.bus.publish([{ topic: TOPICS.alerts, key: 'acme', value: a, ts: a.at }]);
    // the delivery log cannot be written for a reason no retry cures
    const publish = t.bus.publish.bind(t.bus);
    t.bus.publish = async (records) => {
      if (records.some((r) => r.topic === TOPICS.delivered)) throw Object.assign(new Error('MESSAGE_TOO_LARGE'), { retriable: false });
      return publish(records);
    };
    const n = t.make();
    await n.start();
    const err = await n.failed;
    expect(err.message).toContain('MESSAGE_TOO_LARGE');
    expect(n.error).toBe(err);
    const http = await startHttpServer({ address: '127.0.0.1', port: 0, registries: [n.registry], ready: () => true, failed: () => (n.error ? 'webhook' : null) });
    try {
      const res = await fetch(`${http.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'failed', component: 'webhook' });
    } finally {
      await http.close();
      await n.stop();
    }
  });
});
