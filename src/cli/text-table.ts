/** The plain-text tables of `ccm value` and `ccm contagion`: first column left, the rest right-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)];
}

export const usd = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
export const ratio = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : x.toFixed(4));
