/**
 * Conflation windows (ARCHITECTURE.md runtime rule 4): event time is cut into windows aligned to
 * `floor(ts / emitIntervalMs)`. `step` closes a window when its clock moves into a later one; the
 * runtime uses the same rule to tell which window-close records a checkpoint already covers. Both
 * read it from here.
 */

/** The start of the window that holds event time `tsMs`. */
export function windowStartOf(tsMs: number, emitIntervalMs: number): number {
  return Math.floor(tsMs / emitIntervalMs) * emitIntervalMs;
}

/** Whether the window starting at `windowStartMs` is closed once the clock reads `clockMs` (the clock is in a later window). */
export function isWindowClosed(windowStartMs: number, clockMs: number, emitIntervalMs: number): boolean {
  return windowStartOf(clockMs, emitIntervalMs) > windowStartMs;
}
