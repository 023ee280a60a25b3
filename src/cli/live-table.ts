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
