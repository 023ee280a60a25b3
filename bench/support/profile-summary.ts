import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time per function and per source file,
 * largest first, as shares of the sampled time. Used for docs/performance.md "Profile of the hot
 * path": `npx tsx bench/support/profile-summary.ts FILE.cpuprofile [--top 15]`.
 */
interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export function summarise(profile: CpuProfile, top = 15): { totalMs: number; functions: ProfileRow[]; files: ProfileRow[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const f = node.callFrame;
    const where = f.url === '' ? `(${f.functionName || 'native'})` : f.url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '');
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + dt);
    const fileKey = where.replace(/^.*node_modules\/([^/]+)\/.*$/, 'node_modules/$1');
    file.set(fileKey, (file.get(fileKey) ?? 0) + dt);
  }
  const rows = (m: Map<string, number>): ProfileRow[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: Math.round((ms / total) * 1000) / 10 }));
  return { totalMs: Math.round(total), functions: rows(fn), files: rows(file) };
}

if (process.argv[1] !== undefined && new URL(import.meta.url).pathname === process.argv[1]) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } });
  if (positionals.length !== 1) {
    process.stderr.write('usage: tsx bench/support/profile-summary.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const s = summarise(JSON.parse(readFileSync(positionals[0], 'utf8')) as CpuProfile, Number(values.top));
  process.stdout.write(`sampled ${s.totalMs} ms\n\nself time by function:\n`);
  for (const r of s.functions) process.stdout.write(`${String(r.share).padStart(5)}%  ${String(r.ms).padStart(7)} ms  ${r.name}\n`);
  process.stdout.write('\nself time by file:\n');
  for (const r of s.files) process.stdout.write(`${String(r.share).padStart(5)}%  ${String(r.ms).padStart(7)} ms  ${r.name}\n`);
}
