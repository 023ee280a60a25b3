import type { StepOutput } from '../domain/step/step-types.ts';
import type { LtvStatus } from '../domain/valuation/valuation-types.ts';
import { UNKNOWN } from '../domain/valuation/valuation-types.ts';

/**
 * The table `ccm run` prints every few seconds in the embedded default: index prices and each
 * entity's LTV, status and DSCR, with the last alerts. A simulated run says SIMULATED on every
 * screen.
 */
interface EntityRow {
  ltv: number | null;
  forcedSaleLtv: number | null;
  dscr: number | null;
  worst: LtvStatus;
  dscrStatus: string;
  at: number;
}

const fmt = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined ? '—' : x.toFixed(digits));
const money = (x: number | null): string => (x === null ? '—' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x < 1 ? 4 : 2));
const ORDER: readonly LtvStatus[] = ['ok', 'warn', 'margin_call', 'liquidation'];

export class LiveTable {
  private readonly index = new Map<string, { value: number | null; sources: number; stale: boolean }>();
  private readonly entities = new Map<string, EntityRow>();
  private readonly alerts: string[] = [];
  private clockTs: number | null = null;
  private alertCount = 0;

  constructor(private readonly banner: string) {}

  observe(outputs: readonly StepOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'index':
          this.index.set(o.instrument, { value: o.value, sources: o.sources, stale: o.stale });
          this.tick(o.ts);
          break;
        case 'valuation': {
          const v = o.valuation;
          let worst: LtvStatus = 'ok';
          for (const f of v.facilities) if (f.status !== UNKNOWN && ORDER.indexOf(f.status) > ORDER.indexOf(worst)) worst = f.status;
          this.entities.set(v.entity, { ltv: v.ltv, forcedSaleLtv: v.forcedSaleLtv, dscr: v.dscr, worst, dscrStatus: v.dscrStatus, at: o.ts });
          this.tick(o.ts);
          break;
        }
        case 'alert':
          this.alertCount++;
          this.alerts.push(`${new Date(o.at).toISOString().slice(0, 16)}  ${o.entity}${o.facility ? '/' + o.facility : ''}  ${o.rule}: ${o.from} -> ${o.to}${o.value === null ? '' : ` (${fmt(o.value, 3)})`}`);
          if (this.alerts.length > 6) this.alerts.shift();
          break;
        default:
          break;
      }
    }
  }

  private tick(ts: number): void {
    if (this.clockTs === null || ts > this.clockTs) this.clockTs = ts;
  }

  /**
   * The table sized to a terminal of `rows` x `cols`, drawn in place (`ccm run` on a TTY): the
   * banner with the market time and the legend always on top, every entity, the latest alerts,
   * then as many indexes as fit (crypto and hashprice first), in columns. Lines are cut to `cols`.
   */
  renderScreen(rows: number, cols: number): string {
    const cut = (l: string) => (l.length > cols ? l.slice(0, Math.max(0, cols - 1)) + '…' : l);
    const top = [
      `=== ${this.banner} === market time ${this.clockTs === null ? '(no data yet)' : new Date(this.clockTs).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'}`,
      'LTV: debt / collateral value; forced-sale: / what a forced sale raises; DSCR 12m',
    ];
    const entities = ['entity                       LTV  forced-sale  DSCR  status'];
    for (const [id, e] of [...this.entities].sort(([a], [b]) => a.localeCompare(b))) {
      const status = `${e.worst}${e.dscrStatus === 'breach' ? ', dscr breach' : ''}`;
      entities.push(`  ${id.padEnd(24)} ${fmt(e.ltv).padStart(5)}  ${fmt(e.forcedSaleLtv).padStart(11)}  ${fmt(e.dscr).padStart(4)}  ${status}`);
    }
    if (this.entities.size === 0) entities.push('  (no valuation yet: the first comes at the first window close)');
    const alertLines = [`alerts: ${this.alertCount}${this.alerts.length ? ' (latest last)' : ''}`, ...this.alerts.map((a) => `  ${a}`)];
    const budget = rows - 1 - top.length - entities.length - alertLines.length;
    const order = (id: string) => (id === 'BTC' || id === 'ETH' ? 0 : id === 'hashprice' ? 1 : id.startsWith('resale:') ? 2 : 3);
    const ids = [...this.index.keys()].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
    const cell = (id: string) => {
      const i = this.index.get(id)!;
      return `${id.replace('resale:', 'resale ').replace('rental:', 'rental ')} ${money(i.value)}${i.stale ? ' STALE' : ''}`;
    };
    const width = Math.max(20, ...ids.map((id) => cell(id).length)) + 2;
    const perRow = Math.max(1, Math.floor((cols - 2) / width));
    const indexLines: string[] = [];
    const fit = Math.max(0, budget - 1) * perRow;
    const shown = ids.slice(0, ids.length > fit ? Math.max(0, fit - 1) : fit);
    for (let k = 0; k < shown.length; k += perRow) indexLines.push('  ' + shown.slice(k, k + perRow).map((id) => cell(id).padEnd(width)).join('').trimEnd());
    if (shown.length < ids.length) indexLines.push(`  (+${ids.length - shown.length} more indexes: a taller terminal shows them)`);
    const indexes = budget >= 2 ? [`indexes (${ids.length}; USD, rental USD/GPU-h, hashprice USD/TH/day)`, ...indexLines] : [];
    return [...top, ...indexes, ...entities, ...alertLines].slice(0, rows - 1).map(cut).join('\n');
  }

  render(): string {
    const lines: string[] = [];
    lines.push(`=== ${this.banner} === market time ${this.clockTs === null ? '(no data yet)' : new Date(this.clockTs).toISOString().replace('.000Z', 'Z')}`);
    lines.push('index                      value        sources  stale');
    for (const [id, i] of [...this.index].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${id.padEnd(24)} ${money(i.value).padStart(12)}  ${String(i.sources).padStart(6)}   ${i.stale ? 'STALE' : ''}`);
    }
    lines.push('entity                        LTV   forced-sale LTV   DSCR   status');
    for (const [id, e] of [...this.entities].sort(([a], [b]) => a.localeCompare(b))) {
      const status = `${e.worst}${e.dscrStatus === 'breach' ? ', dscr breach' : ''}`;
      lines.push(`  ${id.padEnd(26)} ${fmt(e.ltv).padStart(5)}   ${fmt(e.forcedSaleLtv).padStart(15)}   ${fmt(e.dscr).padStart(4)}   ${status}`);
    }
    lines.push(`alerts: ${this.alertCount}${this.alerts.length ? ' (latest below)' : ''}`);
    for (const a of this.alerts) lines.push(`  ${a}`);
    return lines.join('\n');
  }
}
