/**
 * Work done a slice at a time (docs/processor.md "The sliced close"): a generator that pushes its
 * outputs into an array the caller holds and yields whenever enough of them wait, so the caller
 * can take them (`out.splice(0)`) before it goes on.
 */

/** Runs a sliced generator to its end without taking slices (every output stays in its `out`). */
export function runToEnd<T>(g: Generator<void, T, void>): T {
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
  }
}
