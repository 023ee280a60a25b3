import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Issue 14 point 7: what a person sees of `npm start` in an 80 x 24 terminal (tmux, a real
 * pseudo-terminal): the SIMULATED banner and the market time, the table, not one JSON line, and an
 * alert within the first minute. The screen is read every second until all of it is there or the
 * minute is over (the deadline, not a sleep, decides). Needs tmux (.ci/run installs it). Its HTTP
 * server on a free port: a monitor already running here must not make it exit (busy port, exit 2).
 */
const session = `ccm-screen-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = (): string => tmux('capture-pane', '-p', '-t', session);

afterAll(() => {
  try {
    tmux('kill-session', '-t', session);
  } catch {
    // already gone
  }
});

describe('npm start in a terminal', () => {
  it('redraws the SIMULATED table in place, shows no JSON, and an alert within the first minute', { timeout: 90_000 }, async () => {
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', '-e', 'CCM_LOG_FILE=', '-e', 'CCM_HTTP_ADDRESS=127.0.0.1:0', `cd ${JSON.stringify(process.cwd())} && npm start; sleep 60`);
    const deadline = Date.now() + 60_000;
    let last = '';
    const seen = { banner: false, table: false, alert: false, json: false, overflow: false };
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      last = screen();
      const lines = last.split('\n');
      seen.banner ||= /^=== SIMULATED \(run=demo, \d+x\) === market time 2025-\d\d-\d\d \d\d:\d\d UTC/.test(lines[0] ?? '');
      seen.table ||= lines.some((l) => /^entity\s+LTV\s+forced-sale\s+DSCR\s+status/.test(l)) && lines.some((l) => /^\s+gamma-hybrid-miner\s+\d+\.\d\d/.test(l));
      seen.alert ||= lines.some((l) => /^alerts: [1-9]/.test(l)) && lines.some((l) => /^\s+2025-\d\d-\d\dT\d\d:\d\d\s+\S+\s+(ltv|dscr|contagion|cure_expired|stale_data): \S+ -> \S+/.test(l));
      seen.json ||= lines.some((l) => l.trimStart().startsWith('{"level"'));
      seen.overflow ||= lines.some((l) => l.length > 80);
      if (seen.banner && seen.table && seen.alert) break;
    }
    expect(seen, last).toEqual({ banner: true, table: true, alert: true, json: false, overflow: false });
  });
});
