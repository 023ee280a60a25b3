/**
 * The trimmed median: drop `trimFraction` of the values from each end, then take the median of the
 * rest. Robust to a few mispriced offers or listings (CCIR's CRI-H100 trims its vast.ai offers the
 * same way before aggregating; shared/notes/sources.md 1.1). Null for no values.
 */
export function trimmedMedian(values: readonly number[], trimFraction: number): number | null {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const cut = Math.floor(xs.length * trimFraction);
  const kept = xs.length - 2 * cut > 0 ? xs.slice(cut, xs.length - cut) : xs;
  const mid = Math.floor(kept.length / 2);
  return kept.length % 2 === 1 ? kept[mid] : (kept[mid - 1] + kept[mid]) / 2;
}
