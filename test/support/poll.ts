/**
 * Waits for a condition by polling it, with a deadline (never a fixed sleep standing in for the
 * condition): resolves once `cond` holds, throws `timed out waiting for <what>` (and `detail()`, when
 * given, e.g. a child's output) once `timeoutMs` has passed.
 */
export async function until(what: string, cond: () => Promise<boolean> | boolean, o: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly detail?: () => string } = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${o.detail ? `; ${o.detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 50));
  }
}
