import type { Point } from './sink.ts';

/**
 * InfluxDB 1.x line protocol for our points, written by hand instead of through npm `influx`'s
 * `writePoints` (docs/performance.md "The points' line protocol"). npm `influx` makes, per point, a
 * parsed copy (its field keys sorted into `[key, value]` pairs), runs a regular expression over
 * every tag key, tag value and field key, and joins the line by concatenation; on a replay's three
 * million points that was 7% of the main thread, and its garbage more. Here:
 *
 * - measurement names, tag keys and field keys come from a small fixed set (measurements.ts):
 *   each is escaped once and remembered;
 * - a tag value is scanned for the three characters to escape, and copied as it is without them
 *   (the usual case);
 * - the points go into one array of lines joined once.
 *
 * The escaping is npm `influx`'s (`escape.tag`: comma, equals sign, space with a backslash; a
 * measurement's comma and space), and a field value is `String(number)`, a float to InfluxDB, as
 * npm `influx` writes it. A point is written with its tags and fields in their own order (npm
 * `influx` sorts the field keys; InfluxDB reads either the same way).
 * test/unit/line-protocol.test.ts checks the lines against npm `influx`'s, point by point.
 *
 * The caller keeps only points with a finite time and at least one finite field (InfluxSink.write).
 */
const KEY_CACHE_LIMIT = 4096;
const keyCache = new Map<string, string>();
const measurementCache = new Map<string, string>();

/** A tag key, tag value or field key escaped: `,`, `=` and space take a backslash. */
export function escapeTag(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 44 /* , */ || c === 61 /* = */ || c === 32 /* space */) return s.replace(/[,= ]/g, '\\$&');
  }
  return s;
}

function escapeMeasurement(s: string): string {
  return /[, ]/.test(s) ? s.replace(/[, ]/g, '\\$&') : s;
}

/** A name from the fixed set, escaped once (the cache is bounded should names ever come from data). */
function cached(cache: Map<string, string>, s: string, escape: (s: string) => string): string {
  let e = cache.get(s);
  if (e === undefined) {
    e = escape(s);
    if (cache.size < KEY_CACHE_LIMIT) cache.set(s, e);
  }
  return e;
}

const key = (s: string): string => cached(keyCache, s, escapeTag);
const measurement = (s: string): string => cached(measurementCache, s, escapeMeasurement);

/** One point's line: `measurement,tag=value,... field=value,... time`. */
export function pointLine(p: Point): string {
  let line = measurement(p.measurement);
  const tags = p.tags;
  for (const k in tags) line += ',' + key(k) + '=' + escapeTag(tags[k]);
  let sep = ' ';
  const fields = p.fields;
  for (const k in fields) {
    line += sep + key(k) + '=' + String(fields[k]);
    sep = ',';
  }
  return line + ' ' + String(p.ts);
}

/** The lines of some points, one per point, newline-separated: the body of a POST /write. */
export function encodeLines(points: readonly Point[]): string {
  const lines = new Array<string>(points.length);
  for (let i = 0; i < points.length; i++) lines[i] = pointLine(points[i]);
  return lines.join('\n');
}
