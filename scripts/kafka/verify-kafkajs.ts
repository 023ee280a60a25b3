/**
 * Checks that kafkajs 2.2.4 works against the broker that scripts/services.sh runs (the pinned
 * KAFKA_VERSION): admin createTopics with configs, produce with explicit timestamps (2022 and far
 * future), consume in a group, fetchTopicOffsetsByTimestamp, and time-based retention (2022 records
 * survive retention.ms=-1 and go with a short retention.ms). Run after `scripts/services.sh up`:
 *
 *   npx tsx scripts/kafka/verify-kafkajs.ts [brokers]     (default: $CCM_KAFKA_BROKERS or 127.0.0.1:29092)
 *
 * Prints one line per check and exits 1 on the first failure. Results: docs/services.md.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const brokers = (process.argv[2] ?? process.env.CCM_KAFKA_BROKERS ?? '127.0.0.1:29092').split(',');
const kafka = new Kafka({ clientId: 'ccm-verify', brokers, logLevel: logLevel.WARN });
const admin = kafka.admin();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
const run = randomUUID().slice(0, 8);
const kept = `verify.${run}.kept`;
const expiring = `verify.${run}.expiring`;
const ts2022Ms = Date.UTC(2022, 0, 3, 12, 0, 0);
const ts2030Ms = Date.UTC(2030, 5, 1, 0, 0, 0);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  await admin.connect();
  const cluster = await admin.describeCluster();
  check(cluster.brokers.length === 1, `describeCluster: one broker, controller ${cluster.controller}`);

  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: kept, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '-1' }, { name: 'message.timestamp.after.max.ms', value: '9223372036854775807' }] },
      { topic: expiring, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }, { name: 'segment.ms', value: '1000' }] },
    ],
  });
  check(created, 'createTopics with retention.ms and message.timestamp.after.max.ms');

  await producer.connect();
  await producer.send({
    topic: kept,
    messages: [
      { key: 'BTC', value: JSON.stringify({ v: 1, price: 47000 }), timestamp: String(ts2022Ms) },
      { key: 'ETH', value: JSON.stringify({ v: 1, price: 3700 }), timestamp: String(ts2022Ms + 60_000) },
      { key: 'BTC', value: JSON.stringify({ v: 1, price: 250000 }), timestamp: String(ts2030Ms) },
    ],
  });
  await producer.send({ topic: expiring, messages: [{ key: 'BTC', value: 'old', timestamp: String(ts2022Ms) }] });
  check(true, 'produce records stamped 2022 and 2030 (future stamps accepted)');

  const byTime = await admin.fetchTopicOffsetsByTimestamp(kept, ts2022Ms + 30_000);
  const total = byTime.reduce((sum, p) => sum + Number(p.offset), 0);
  // One of the two 2022 records is before the lookup time; offsets by time point past it.
  check(byTime.length === 2 && total === 1, `fetchTopicOffsetsByTimestamp: ${JSON.stringify(byTime)}`);

  const consumer = kafka.consumer({ groupId: `verify.${run}`, sessionTimeout: 6000, heartbeatInterval: 500 });
  const seen: { key: string; ts: number }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: kept, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('FAILED: group consume: timed out after 60 s')), 60_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push({ key: String(message.key), ts: Number(message.timestamp) });
          if (seen.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  const offsets = await admin.fetchOffsets({ groupId: `verify.${run}`, topics: [kept] });
  await consumer.disconnect();
  check(seen.some((r) => r.ts === ts2022Ms), `group consume read all 3 records with their timestamps (${seen.map((r) => new Date(r.ts).toISOString()).join(', ')})`);
  const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  check(committed === 3, `group committed offsets: ${JSON.stringify(offsets[0]?.partitions)}`);

  // Retention: the broker checks every 5 s (log.retention.check.interval.ms); a 2022 record in a
  // topic with retention.ms=60000 goes, the same records with retention.ms=-1 stay.
  let expiringStart = '0';
  for (let i = 0; i < 30 && expiringStart === '0'; i++) {
    await sleep(1000);
    const low = await admin.fetchTopicOffsets(expiring);
    expiringStart = low[0]?.low ?? '0';
  }
  check(expiringStart === '1', `a 2022 record in a retention.ms=60000 topic was deleted (log start offset ${expiringStart})`);
  const keptLow = await admin.fetchTopicOffsets(kept);
  check(keptLow.every((p) => p.low === '0'), `2022 records in a retention.ms=-1 topic survive: ${JSON.stringify(keptLow)}`);

  await admin.deleteTopics({ topics: [kept, expiring] });
  check(true, 'deleteTopics');
}

main()
  .then(async () => {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    console.log(`kafkajs 2.2.4 against ${brokers.join(',')}: all checks passed`);
  })
  .catch(async (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    process.exitCode = 1;
  });
