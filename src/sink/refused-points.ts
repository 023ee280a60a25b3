import { ErrorCode, isMonitorError } from '../domain/errors.ts';
import type { Point } from './sink.ts';

/**
 * Poison points (docs/reliability.md "Poison records"; ARCHITECTURE.md runtime rule 8): when the sink
 * refuses a batch for its content (SINK_POINTS_REFUSED: InfluxDB 400, 413, 422), the batch is cut in
 * halves and each half written again, down to the single points it refuses; those are handed to
 * `onRefused` (the processor dead-letters them) and the rest is written. A refusal costs about
 * 2 log2(n) writes per refused point; rewriting a point that was written is harmless (a point
 * overwrites itself). Any other failure is thrown as it is (the caller's retry policy decides).
 */
export const isPointsRefused = (e: unknown): boolean => isMonitorError(e) && e.code === ErrorCode.SINK_POINTS_REFUSED;

export async function writeIsolatingRefused(
  points: readonly Point[],
  write: (points: readonly Point[]) => Promise<void>,
  onRefused: (point: Point, reason: string) => Promise<void>,
): Promise<number> {
  if (points.length === 0) return 0;
  try {
    await write(points);
    return 0;
  } catch (e) {
    if (!isPointsRefused(e)) throw e;
    if (points.length === 1) {
      await onRefused(points[0], (e as Error).message);
      return 1;
    }
    const mid = Math.ceil(points.length / 2);
    const left = await writeIsolatingRefused(points.slice(0, mid), write, onRefused);
    return left + (await writeIsolatingRefused(points.slice(mid), write, onRefused));
  }
}
