import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, kafkaBus, quietLogger } from '../support/pipeline.ts';
import { topicNames } from '../../src/bus/topics.ts';
import { WebhookNotifier, verifyWebhookSignature, WEBHOOK_HEADER } from '../../src/notify/index.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';

/**
 * Alert delivery on the real `alerts` topic (docs/reliability.md "Webhooks"): the notifier POSTs
 * each alert of its run to a local receiver, signed `t=...,v1=...` over the time and the raw body
 * (checked with the receiver-side `verifyWebhookSignature`), with the eventId as
 * `idempotency-key`. A non-JSON record (which ended the consumer before, silently) is
 * dead-lettered and the alerts after it are delivered; a receiver that fails 40 times in a row
 * is retried until it accepts; a restarted notifier (same group) never delivers an alert twice,
 * not even one the processor published again.
 */
const env = serviceEnv('default');
const SECRET = 'test-secret-for-hmac-0123';

interface Received {
  readonly body: string;
  readonly signature: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly at: number;
  readonly status: number;
}

const anAlert = (run: string, n: number, entity = 'acme') => ({
  v: 1,
  run,
  eventId: `evt-${n}`,
  entity,
  facility: 'loan-1',
  rule: 'ltv',
  from: 'ok',
  to: 'margin_call',
  value: 0.8,
  threshold: 0.75,
  at: Date.UTC(2025, 9, 1) + n,
});

describe('the webhook notifier on the alerts topic', () => {
  let bus: KafkaBus;
  let server: Server;
  let url = '';
  const received: Received[] = [];
  let failNext = 40; // evt-1 is answered 503 forty times (beyond any fixed retry count)
  const prefix = `${uniquePrefix('webhook')}.`;
  const run = 'live';
  const topics = topicNames(prefix);
  const notifier = (group: string) =>
    new WebhookNotifier({
      bus,
      logger: quietLogger(),
      topics: { alerts: topics.alerts, deadletter: topics.deadletter, delivered: topics.webhookDelivered },
      groupId: group,
      url,
      secret: SECRET,
      format: 'json',
      timeoutMs: 5000,
      backoff: { initialMs: 20, maxMs: 100 },
      run,
    });
  const accepted = () => received.filter((r) => r.status === 200);

  const waitFor = async (what: string, pred: () => boolean | Promise<boolean>, limitMs = 60_000) => {
    const deadline = Date.now() + limitMs;
    while (!(await pred())) {
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const committed = async (group: string) => (await bus.committedOffsets(group, topics.alerts)).reduce((s, o) => s + Math.max(0, Number(o.offset)), 0);

  beforeAll(async () => {
    bus = kafkaBus(env);
    await createTopics(bus, prefix, 2);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const key = req.headers[WEBHOOK_HEADER.idempotencyKey] as string | undefined;
        const status = key === 'evt-1' && failNext > 0 ? 503 : 200;
        if (status === 503) failNext--;
        received.push({ body, signature: req.headers[WEBHOOK_HEADER.signature] as string | undefined, idempotencyKey: key, at: Date.now(), status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

    const group = `${prefix}webhook`;
    const first = notifier(group);
    await first.start();
    await bus.publish([1, 2].map((n) => ({ topic: topics.alerts, key: 'acme', ts: anAlert(run, n).at, value: anAlert(run, n) })));
    // a record that is not JSON, then more alerts: the consumer must survive it
    await bus.publishRaw([{ topic: topics.alerts, key: 'acme', value: '{"v":1,"run":"live", truncated', ts: Date.UTC(2025, 9, 1) + 3 }]);
    await bus.publish([{ topic: topics.alerts, key: 'acme', ts: anAlert(run, 3).at, value: anAlert(run, 3) }]);
    // an alert of another run is not this notifier's
    await bus.publish([{ topic: topics.alerts, key: 'acme', ts: 1, value: { ...anAlert('replay-x', 9), eventId: 'evt-other' } }]);
    await waitFor('three alerts accepted and five records committed', async () => accepted().length === 3 && (await committed(group)) === 5);
    expect(first.error).toBeNull();
    await first.stop();
    // restart: the same group resumes after what was delivered; the processor publishes evt-2
    // again (its redelivery after a crash), then a new alert
    const second = notifier(group);
    await second.start();
    await bus.publish([2, 4].map((n) => ({ topic: topics.alerts, key: 'acme', ts: anAlert(run, n).at, value: anAlert(run, n) })));
    await waitFor('the new alert accepted and every record committed', async () => accepted().length === 4 && (await committed(group)) === 7);
    expect(second.error).toBeNull();
    await second.stop();
  });

  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
    await bus?.deleteTopics(Object.values(topics).filter((t): t is string => typeof t === 'string')).catch(() => undefined);
    await bus?.close();
  });

  it('signs the time and the raw body so the receiver can verify them, and sends the eventId as idempotency key', () => {
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(verifyWebhookSignature({ body: r.body, header: r.signature, secret: SECRET, nowMs: r.at })).toMatchObject({ ok: true });
      expect(verifyWebhookSignature({ body: r.body, header: r.signature, secret: 'not-the-secret-0000', nowMs: r.at })).toEqual({ ok: false, reason: 'signature_mismatch' });
      expect(r.idempotencyKey).toBe((JSON.parse(r.body) as { eventId: string }).eventId);
    }
  });

  it('retries an alert the receiver keeps failing, with backoff, until it is accepted', () => {
    const tries = received.filter((r) => r.idempotencyKey === 'evt-1');
    expect(tries.map((r) => r.status)).toEqual([...Array(40).fill(503), 200]);
    expect(tries[40].at - tries[0].at).toBeGreaterThanOrEqual(40 * 20);
  });

  it('dead-letters the record that is not JSON with its reason and keeps delivering after it', async () => {
    const dead = (await bus.readToEnd(topics.deadletter)).map((r) => JSON.parse(String(r.value)) as { reason: string; stage: string; raw: string; topic: string });
    expect(dead).toEqual([expect.objectContaining({ reason: 'not JSON', stage: 'webhook', raw: '{"v":1,"run":"live", truncated', topic: topics.alerts })]);
  });

  it('delivers every alert of its run exactly once across a restart and a redelivery, in order, and none of another run', () => {
    expect(accepted().map((r) => r.idempotencyKey)).toEqual(['evt-1', 'evt-2', 'evt-3', 'evt-4']);
  });
});
