/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import uPlot from 'uplot';
import { BOARD_PROTOCOL_VERSION, type AlertRow, type BookRow, type HistoryPoint, type IndexRow, type ServerMessage } from '../protocol.ts';

/**
 * The board's page (docs/board.md): Book, Borrower, Market and Alerts over the `/ws` stream.
 * Plain DOM, uPlot for the charts; the Book table renders only the rows in view (10,000 borrowers
 * stay responsive). Reconnects with backoff and resumes from the server's fresh snapshot.
 */
const ROW_PX = 26;
const state = {
  run: '',
  simulated: false,
  clockMs: null as number | null,
  book: new Map<string, BookRow>(),
  indexes: new Map<string, IndexRow>(),
  alerts: [] as AlertRow[],
  history: new Map<string, HistoryPoint[]>(),
  sortKey: 'headroom' as keyof BookRow,
  sortDesc: false,
  lender: '',
  selected: null as string | null,
  connected: false,
};

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const fmt = (x: number | null | undefined, d = 2): string => (x === null || x === undefined ? '—' : x.toFixed(d));
const money = (x: number | null): string => (x === null ? '—' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x < 1 ? 4 : 2));
const time = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC');

function apply(m: ServerMessage): void {
  if (m.v !== BOARD_PROTOCOL_VERSION) {
    location.reload();
    return;
  }
  switch (m.type) {
    case 'snapshot':
      state.run = m.run;
      state.simulated = m.simulated;
      state.clockMs = m.clockMs;
      state.book = new Map(m.book.map((r) => [r.entity, r]));
      state.indexes = new Map(m.indexes.map((r) => [r.instrument, r]));
      state.alerts = [...m.alerts];
      state.history = new Map(Object.entries(m.history).map(([k, v]) => [k, [...v]]));
      break;
    case 'indexes':
      for (const r of m.rows) {
        state.indexes.set(r.instrument, r);
        if (state.clockMs === null || r.ts > state.clockMs) state.clockMs = r.ts;
      }
      break;
    case 'alert':
      state.alerts.push(m.alert);
      if (state.alerts.length > 500) state.alerts.shift();
      break;
    case 'book':
      for (const r of m.rows) {
        state.book.set(r.entity, r);
        if (state.clockMs === null || r.at > state.clockMs) state.clockMs = r.at;
      }
      for (const [id, p] of Object.entries(m.history)) {
        const h = state.history.get(id) ?? [];
        h.push(p);
        if (h.length > 240) h.shift();
        state.history.set(id, h);
      }
      break;
  }
  render();
}

function connect(attempt = 0): void {
  const token = new URLSearchParams(location.search).get('token');
  const ws = new WebSocket(`ws://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  ws.onopen = () => {
    attempt = 0;
    state.connected = true;
    render();
  };
  ws.onmessage = (e) => {
    // timed for `npm run bench -- board` (bench/board.ts): parse and apply, then the frame that draws it
    performance.mark(MARK_MESSAGE);
    const m = JSON.parse(String(e.data)) as ServerMessage;
    apply(m);
    measure(`${MEASURE_APPLY}${m.type}`, MARK_MESSAGE);
  };
  ws.onclose = () => {
    state.connected = false;
    render();
    setTimeout(() => connect(attempt + 1), Math.min(10_000, 250 * 2 ** attempt));
  };
}

// ---------------------------------------------------------------- views

function rowsInOrder(): BookRow[] {
  const rows = [...state.book.values()].filter((r) => state.lender === '' || r.lenders.includes(state.lender));
  const k = state.sortKey;
  const val = (r: BookRow): number | string => {
    const v = r[k];
    if (typeof v === 'number') return v;
    if (v === null) return state.sortDesc ? -Infinity : Infinity;
    return String(v);
  };
  rows.sort((a, b) => {
    const [x, y] = [val(a), val(b)];
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return (state.sortDesc ? -c : c) || a.entity.localeCompare(b.entity);
  });
  return rows;
}

const COLUMNS: Array<[keyof BookRow, string, (r: BookRow) => string]> = [
  ['entity', 'borrower', (r) => r.entity],
  ['ltv', 'LTV', (r) => fmt(r.ltv)],
  ['forcedSaleLtv', 'forced-sale LTV', (r) => fmt(r.forcedSaleLtv)],
  ['headroom', 'headroom to margin call', (r) => fmt(r.headroom, 3)],
  ['dscr', 'DSCR', (r) => fmt(r.dscr)],
  ['liquidityCoverage', 'liquidity coverage', (r) => fmt(r.liquidityCoverage)],
  ['runwayMonths', 'runway (months)', (r) => fmt(r.runwayMonths, 1)],
  ['status', 'status', (r) => r.status + (r.dscrStatus === 'breach' ? ' · dscr breach' : '')],
  ['contagionRound', 'contagion round', (r) => (r.contagionRound === null || r.contagionRound < 0 ? '—' : String(r.contagionRound))],
];

function renderBook(): void {
  const head = $('book-head');
  if (head.childElementCount === 0) {
    for (const [key, label] of COLUMNS) {
      const th = document.createElement('div');
      th.className = 'cell head';
      th.dataset.key = String(key);
      th.textContent = label;
      th.onclick = () => {
        state.sortDesc = state.sortKey === key ? !state.sortDesc : false;
        state.sortKey = key;
        render();
      };
      head.appendChild(th);
    }
  }
  const lenders = [...new Set([...state.book.values()].flatMap((r) => r.lenders))].sort();
  const select = $<HTMLSelectElement>('lender');
  if (select.options.length !== lenders.length + 1) {
    select.replaceChildren(new Option('every lender', ''), ...lenders.map((l) => new Option(l, l)));
    select.value = state.lender;
  }
  const rows = rowsInOrder();
  const viewport = $('book-body');
  const spacer = $('book-spacer');
  spacer.style.height = `${rows.length * ROW_PX}px`;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_PX) - 5);
  const count = Math.ceil(viewport.clientHeight / ROW_PX) + 10;
  const frag = document.createDocumentFragment();
  for (let i = first; i < Math.min(rows.length, first + count); i++) {
    const r = rows[i];
    const div = document.createElement('div');
    div.className = `row status-${r.status}`;
    div.dataset.entity = r.entity;
    div.dataset.at = String(r.at); // the valuation's event time (ms): which valuation the figures are
    div.style.top = `${i * ROW_PX}px`;
    for (const [key, , show] of COLUMNS) {
      const cell = document.createElement('div');
      cell.className = 'cell';
      cell.dataset.key = String(key);
      cell.textContent = show(r);
      div.appendChild(cell);
    }
    div.onclick = () => {
      state.selected = r.entity;
      showView('borrower');
    };
    frag.appendChild(div);
  }
  $('book-rows').replaceChildren(frag);
  $('book-count').textContent = `${rows.length} borrowers`;
}

let chart: uPlot | null = null;
let chartKey = '';
function renderBorrower(): void {
  const id = state.selected ?? [...state.book.keys()][0] ?? null;
  const r = id === null ? undefined : state.book.get(id);
  $('borrower-title').textContent = r ? `${r.entity} (${r.type ?? ''}) at ${time(r.at)}` : 'pick a borrower in the Book';
  if (!r) return;
  const line = (cls: string, text: string): HTMLElement => {
    const d = document.createElement('div');
    d.className = cls;
    d.textContent = text;
    return d;
  };
  const until = (deadline: number | null): string => {
    if (deadline === null || state.clockMs === null) return '';
    const h = (deadline - state.clockMs) / 3_600_000;
    return h > 0 ? ` · cure deadline in ${h >= 48 ? `${(h / 24).toFixed(1)} days` : `${h.toFixed(1)} h`} of market time` : ' · cure deadline passed';
  };
  $('borrower-facilities').replaceChildren(
    ...r.facilities.map((f) =>
      line(
        `facility status-${f.status}`,
        `${f.id} (${f.lender ?? '-'}): LTV ${fmt(f.ltv)} · warn ${fmt(f.warn)} · margin call ${fmt(f.marginCall)} · liquidation ${fmt(f.liquidation)} · ${f.status}${until(f.cureDeadline)} · tenor ${f.tenorMonthsLeft ?? '—'} months against collateral life ${f.collateralLifeMonthsLeft ?? '—'}${f.debtOutlivesCollateral ? ' (debt outlives collateral)' : ''}`,
      ),
    ),
  );
  const spot = r.models.map((m) => `${m} ${money(state.indexes.get(`rental:${m}`)?.value ?? null)}`).filter((x) => !x.endsWith('—'));
  $('borrower-breakeven').textContent = `breakeven rental ${fmt(r.breakevenRentalRate, 3)} USD/GPU-h against spot ${spot.join(', ') || '—'}`;
  $('borrower-stress').replaceChildren(...r.stress.map((x) => line('stress', `${x.scenario}: LTV ${fmt(x.ltv)} · DSCR ${fmt(x.dscr)} · worst facility ${x.worst}`)));
  $('borrower-inputs').replaceChildren(
    ...Object.entries(r.inputs).map(([instrument, i]) => {
      const now = state.indexes.get(instrument);
      return line('input', `${instrument}: ${money(i.value)} from ${i.sources} sources at the valuation; now ${now ? `${money(now.value)}, ${now.stale ? 'STALE' : 'fresh'} (${time(now.ts)})` : 'no index'}`);
    }),
  );
  // each facility's LTV over the recent window closes, and its own warn, margin-call and
  // liquidation lines (horizontal, at the latest row's covenants), dashed in the LTV's colour
  const h = state.history.get(r.entity) ?? [];
  const xs = h.map((p) => p.ts / 1000);
  const colours = ['#d33', '#36c', '#393', '#c90', '#939'];
  const lines: Array<{ label: string; stroke: string; dash?: number[]; values: Array<number | null> }> = [];
  r.facilities.forEach((f, i) => {
    const stroke = colours[i % colours.length];
    lines.push({ label: `${f.id} LTV`, stroke, values: h.map((p) => p.ltv[f.id] ?? null) });
    for (const [name, level, dash] of [['warn', f.warn, [2, 4]], ['margin call', f.marginCall, [8, 4]], ['liquidation', f.liquidation, [14, 3, 2, 3]]] as const) {
      if (level !== null) lines.push({ label: `${f.id} ${name}`, stroke, dash: [...dash], values: h.map(() => level) });
    }
  });
  const data = [xs, ...lines.map((l) => l.values)] as uPlot.AlignedData;
  const el = $('borrower-chart');
  const key = `${r.entity}|${lines.map((l) => l.label).join('|')}`;
  if (chart === null || chartKey !== key) {
    chart?.destroy();
    chartKey = key;
    const value = (_u: uPlot, v: number | null): string => fmt(v);
    chart = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height: 260,
        series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.stroke, width: l.dash ? 1 : 2, value, ...(l.dash ? { dash: l.dash, points: { show: false } } : {}) }))],
        axes: [{}, { label: 'LTV' }],
      },
      data,
      el,
    );
  } else chart.setData(data);
}

function renderMarket(): void {
  $('market-rows').replaceChildren(
    ...[...state.indexes.values()]
      .sort((a, b) => a.instrument.localeCompare(b.instrument))
      .map((i) => {
        const d = document.createElement('div');
        d.className = `index${i.stale ? ' stale' : ''}`;
        d.dataset.instrument = i.instrument;
        d.textContent = `${i.instrument}  ${money(i.value)}  · ${i.sources} sources · ${i.stale ? 'STALE' : 'fresh'} · ${time(i.ts)}`;
        return d;
      }),
  );
}

function renderAlerts(): void {
  $('alert-rows').replaceChildren(
    ...state.alerts
      .slice(-200)
      .reverse()
      .map((a) => {
        const d = document.createElement('div');
        d.className = `alert to-${a.to}`;
        d.dataset.eventId = a.eventId;
        d.textContent = `${time(a.at)}  ${a.entity}${a.facility ? '/' + a.facility : ''}  ${a.rule}: ${a.from} → ${a.to}${a.value === null ? '' : ` (${fmt(a.value, 3)})`}`;
        return d;
      }),
  );
}

let view = 'book';
function showView(v: string): void {
  view = v;
  for (const el of document.querySelectorAll<HTMLElement>('.view')) el.hidden = el.id !== `view-${v}`;
  for (const el of document.querySelectorAll<HTMLElement>('nav button')) el.classList.toggle('active', el.dataset.view === v);
  render();
}

/**
 * Performance marks, read by bench/board.ts through the browser: `ccm:apply:<type>` (a message
 * parsed and applied to the state) and `ccm:render` (the next frame's drawing). Each name keeps
 * only its latest measure, so a page open for days holds a handful of entries, not one per message.
 */
const MARK_MESSAGE = 'ccm:message';
const MARK_RENDER = 'ccm:render-start';
const MEASURE_APPLY = 'ccm:apply:';
const MEASURE_RENDER = 'ccm:render';
function measure(name: string, from: string): void {
  performance.clearMeasures(name);
  performance.measure(name, from);
  performance.clearMarks(from);
}

let pending = false;
function render(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    performance.mark(MARK_RENDER);
    $('banner').textContent = state.simulated ? `SIMULATED · run ${state.run}` : state.run === 'live' ? 'LIVE' : `replay · run ${state.run}`;
    $('banner').className = state.simulated ? 'simulated' : '';
    $('clock').textContent = `market time ${time(state.clockMs)}${state.connected ? '' : ' · reconnecting…'}`;
    if (view === 'book') renderBook();
    else if (view === 'borrower') renderBorrower();
    else if (view === 'market') renderMarket();
    else renderAlerts();
    measure(MEASURE_RENDER, MARK_RENDER);
  });
}

document.addEventListener('DOMContentLoaded', () => {
  for (const b of document.querySelectorAll<HTMLElement>('nav button')) b.onclick = () => showView(b.dataset.view ?? 'book');
  $<HTMLSelectElement>('lender').onchange = (e) => {
    state.lender = (e.target as HTMLSelectElement).value;
    render();
  };
  $('book-body').onscroll = () => render();
  showView('book');
  connect();
});
