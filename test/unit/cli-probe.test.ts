import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ccm } from '../support/cli.ts';

/**
 * Issue 14 point 5: a command that needs Kafka or InfluxDB, pointed at one that is not there, says
 * so in one line with what to do and exits 1, within its probe (8 s for Kafka, 5 s for InfluxDB)
 * instead of the clients' two minutes of retries: the test's own timeout (15 s) fails it otherwise.
 * "Not there" is a port that takes connections and never answers (a black hole, the worst case for
 * a client) and a closed port.
 */
let blackHole: Server;
let port = 0;
const held: Socket[] = [];
beforeAll(async () => {
  blackHole = createServer((socket) => void held.push(socket));
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
  port = (blackHole.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((r) => blackHole.close(() => r()));
});

// user and password given: config/local.yaml's credentials file exists only once the services ran
const withEnv = async <T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
  const saved = { ...process.env };
  Object.assign(process.env, { CCM_INFLUX_USER: 'u', CCM_INFLUX_PASSWORD: 'p' }, env);
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
};

describe('commands that need the services, without them', () => {
  it('runs list with no Kafka answering: one line naming scripts/services.sh and CCM_KAFKA_BROKERS, exit 1', { timeout: 15_000 }, async () => {
    const r = await withEnv({ CCM_KAFKA_BROKERS: `127.0.0.1:${port}`, CCM_INFLUX_URL: 'http://127.0.0.1:9' }, () => ccm(['runs', 'list', '--config', 'config/local.yaml']));
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^Kafka at 127\\.0\\.0\\.1:${port} does not answer \\(.*\\): start the local services with scripts/services\\.sh up .* or set CCM_KAFKA_BROKERS`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('entities publish with a closed Kafka port, exit 1 with the hint', { timeout: 15_000 }, async () => {
    const r = await withEnv({ CCM_KAFKA_BROKERS: '127.0.0.1:9' }, () => ccm(['entities', 'publish', 'config/entities', '--config', 'config/local.yaml']));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Kafka at 127\.0\.0\.1:9 does not answer/);
  });
});
