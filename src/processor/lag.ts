import type { LogReader, TopicOffset } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import { within } from '../deadline.ts';
import type { ProcessorMetrics } from './processor-metrics.ts';
import { END_OFFSET_TIMEOUT_MS } from './processor-options.ts';

/**
 * The quotes topic's end offsets, bounded: a lookup that never answers must not hold the queue
 * (and with it the consumers' batches) hostage; the next drain asks again.
 */
export async function quoteEndOffsets(bus: Pick<LogReader, 'endOffsets'>, topic: string, log: Logger): Promise<TopicOffset[] | 'timeout'> {
  const end = await within(END_OFFSET_TIMEOUT_MS, bus.endOffsets(topic));
  if (end === 'timeout') log.warn({ topic }, 'end offsets lookup timed out; asking again');
  return end;
}

export interface LagOptions {
  readonly bus: Pick<LogReader, 'endOffsets'>;
  readonly topic: string;
  readonly metrics: Pick<ProcessorMetrics, 'lag'>;
  /** The offsets this instance has processed to (written and committable). */
  readonly processed: () => ReadonlyArray<{ readonly partition: number; readonly offset: string }>;
  readonly isStopping: () => boolean;
  readonly logger: Logger;
}

/** Consumer lag per quote partition: end offset minus the offset this instance has processed to. */
export async function updateLag(o: LagOptions): Promise<void> {
  if (o.isStopping()) return;
  try {
    const end = await o.bus.endOffsets(o.topic);
    const done = new Map(o.processed().map((c) => [c.partition, BigInt(c.offset)]));
    for (const e of end) {
      const lag = BigInt(e.offset) - (done.get(e.partition) ?? 0n);
      o.metrics.lag.set({ topic: o.topic, partition: String(e.partition) }, Number(lag < 0n ? 0n : lag));
    }
  } catch (e) {
    // a metric only: the next round tries again
    o.logger.debug({ err: e }, 'consumer lag not updated');
  }
}
