import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { serviceEnv, uniquePrefix } from '../support/services.ts';
import { createTopics, kafkaBus, processorTopics, quietLogger } from '../support/pipeline.ts';
import { WebhookNotifier } from '../../src/processor/webhook-notifier.ts';
import type { KafkaBus } from '../../src/bus/kafka-bus.ts';

/**
 * Alert delivery (issue "The stream processor on Kafka", item 7): the notifier reads the real
 * `alerts` topic and POSTs each alert of its run to a local receiver, signed with HMAC-SHA256 of
 * the raw body (`x-ccm-signature: sha256=<hex>`), with the eventId as `idempotency-key`; a 500
 * is retried with backoff; a restarted notifier (same group) never delivers an alert twice.
 */
const env = serviceEnv('default');
const SECRET = 'test-secret-for-hmac';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Received {
  readonly body: string;
  readonly signature: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly at: number;
  readonly status: number;
}

const anAlert = (run: string, n: number) => ({
  v: 1,
  run,
  eventId: `evt-${n}`,
  entity: 'acme',
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
  let failNext = 1; // the first request of evt-1 answers 500
  const prefix = uniquePrefix('webhook');
  const run = 'live';
  const topics = processorTopics(prefix);
  const notifier = (group: string) =>
    new WebhookNotifier({ bus, logger: quietLogger(), alertsTopic: topics.alerts, groupId: group, url, secret: SECRET, format: 'json', retries: 5, timeoutMs: 5000, run });

  const waitFor = async (n: number) => {
    for (let i = 0; i < 200 && received.filter((r) => r.status === 200).length < n; i++) await sleep(100);
  };

  beforeAll(async () => {
    bus = kafkaBus(env);
    await createTopics(bus, prefix, 2);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = failNext > 0 ? 500 : 200;
        if (failNext > 0) failNext--;
        received.push({ body, signature: req.headers['x-ccm-signature'] as string | undefined, idempotencyKey: req.headers['idempotency-key'] as string | undefined, at: Date.now(), status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

    const group = `${prefix}webhook`;
    const first = notifier(group);
    await first.start();
    await bus.publish([1, 2, 3].map((n) => ({ topic: topics.alerts, key: 'acme', ts: anAlert(run, n).at, value: anAlert(run, n) })));
    // an alert of another run is not this notifier's
    await bus.publish([{ topic: topics.alerts, key: 'acme', ts: 1, value: { ...anAlert('replay-x', 9), eventId: 'evt-other' } }]);
    await waitFor(3);
    await first.stop();
    // restart: the same group resumes after what was delivered; one new alert arrives
    const second = notifier(group);
    await second.start();
    await bus.publish([{ topic: topics.alerts, key: 'acme', ts: anAlert(run, 4).at, value: anAlert(run, 4) }]);
    await waitFor(4);
    await sleep(1000); // anything redelivered by the restart would have arrived by now
    await second.stop();
  });

  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()));
    await bus?.close();
  });

  it('signs the raw body with HMAC-SHA256 of the secret and sends the eventId as idempotency key', () => {
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(r.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
      expect(r.idempotencyKey).toBe((JSON.parse(r.body) as { eventId: string }).eventId);
    }
  });

  it('retries an alert the receiver answered 500 to, after a backoff, until it is accepted', () => {
    const tries = received.filter((r) => r.idempotencyKey === 'evt-1');
    expect(tries.map((r) => r.status)).toEqual([500, 200]);
    expect(tries[1].at).toBeGreaterThan(tries[0].at);
  });

  it('delivers every alert of its run exactly once across a restart, and none of another run', () => {
    const accepted = received.filter((r) => r.status === 200).map((r) => r.idempotencyKey);
    expect(accepted).toEqual(['evt-1', 'evt-2', 'evt-3', 'evt-4']);
  });
});
