/**
 * Calendar arithmetic on epoch milliseconds (UTC), as shared/DOMAIN.md "Units and time" defines it:
 * - `addMonths(t, k)` moves `t` by `k` calendar months, keeping the time of day and the day of month,
 *   clamped to the month's last day (Jan 31 + 1 = Feb 28/29);
 * - `wholeMonths(a, t)` is the largest `k >= 0` with `addMonths(a, k) <= t` (0 when t < a).
 * A year is 365.25 days; a revenue month is a twelfth of it.
 *
 * No Date objects: the valuation calls these in its inner loops, so they work on plain numbers with
 * the days-from-civil algorithm (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
 * https://howardhinnant.github.io/date_algorithms.html), which is exact for the proleptic Gregorian calendar.
 */
import { ErrorCode, MonitorError } from './errors.ts';

export const MS_PER_DAY = 86_400_000;
export const DAYS_PER_YEAR = 365.25;
export const MS_PER_YEAR = DAYS_PER_YEAR * MS_PER_DAY;
/** A revenue month: a twelfth of 365.25 days (30.4375 days, 730.5 hours). */
export const DAYS_PER_REVENUE_MONTH = DAYS_PER_YEAR / 12;
export const HOURS_PER_REVENUE_MONTH = DAYS_PER_REVENUE_MONTH * 24;

/** Days since 1970-01-01 of the civil date y-m-d (m 1..12). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12; // March = 0
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeap(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Moves `tMs` by `k` calendar months (k may be negative), keeping the time of day and the day of
 * month, clamped to the target month's last day.
 */
export function addMonths(tMs: number, k: number): number {
  const days = Math.floor(tMs / MS_PER_DAY);
  const timeOfDayMs = tMs - days * MS_PER_DAY;
  // civil-from-days, inlined to stay allocation-free
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  // target month
  const monthIndex = y * 12 + (m - 1) + k;
  const y2 = Math.floor(monthIndex / 12);
  const m2 = monthIndex - y2 * 12 + 1;
  const dim = daysInMonth(y2, m2);
  const d2 = d < dim ? d : dim;
  return daysFromCivil(y2, m2, d2) * MS_PER_DAY + timeOfDayMs;
}

/** Year and month (1..12) of an instant, as one number `y * 12 + (m - 1)`. */
function monthIndexOf(tMs: number): number {
  const z = Math.floor(tMs / MS_PER_DAY) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return y * 12 + (m - 1);
}

/** The largest `k >= 0` with `addMonths(aMs, k) <= tMs`; 0 when `tMs < aMs`. */
export function wholeMonths(aMs: number, tMs: number): number {
  if (tMs <= aMs) return 0;
  // addMonths(a, k0) falls in t's month; addMonths(a, k0 - 1) in the month before, so <= t.
  const k0 = monthIndexOf(tMs) - monthIndexOf(aMs);
  return addMonths(aMs, k0) <= tMs ? k0 : k0 - 1;
}

/**
 * An instant with its civil month, day and time of day worked out once, for the valuation's hot
 * path: `wholeMonthsBetween` of two of them is a few integer comparisons where `wholeMonths`
 * converts both instants to civil dates on every call.
 */
export interface CivilInstant {
  readonly ms: number;
  /** `y * 12 + (m - 1)`. */
  readonly monthIndex: number;
  readonly day: number;
  readonly daysInMonth: number;
  readonly timeOfDayMs: number;
  /**
   * A whole number of ms inside the Date range: then every step of `addMonths` is exact integer
   * arithmetic and the comparison of `wholeMonthsBetween` is exactly that of `wholeMonths`.
   * Otherwise (fractions of a ms, NaN) `wholeMonthsBetween` defers to `wholeMonths`.
   */
  readonly exact: boolean;
}

const MAX_DATE_MS = 8.64e15;

export function civilInstant(tMs: number): CivilInstant {
  const days = Math.floor(tMs / MS_PER_DAY);
  const timeOfDayMs = tMs - days * MS_PER_DAY;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return {
    ms: tMs,
    monthIndex: y * 12 + (m - 1),
    day: d,
    daysInMonth: daysInMonth(y, m),
    timeOfDayMs,
    exact: Number.isSafeInteger(tMs) && Math.abs(tMs) <= MAX_DATE_MS,
  };
}

/**
 * `wholeMonths(a.ms, t.ms)`, the same number. `addMonths(a, k0)` lands in t's month (k0 the months
 * between them) on day min(a's day, days in t's month) at a's time of day; it is at or before t
 * when that (day, time of day) is, so no date needs rebuilding.
 */
export function wholeMonthsBetween(a: CivilInstant, t: CivilInstant): number {
  if (!a.exact || !t.exact) return wholeMonths(a.ms, t.ms);
  if (t.ms <= a.ms) return 0;
  const k0 = t.monthIndex - a.monthIndex;
  const dayA = a.day < t.daysInMonth ? a.day : t.daysInMonth;
  return dayA < t.day || (dayA === t.day && a.timeOfDayMs <= t.timeOfDayMs) ? k0 : k0 - 1;
}

/** Years (365.25 days) from `fromMs` to `toMs`; negative when `toMs` is earlier. */
export const yearsBetween = (fromMs: number, toMs: number): number => (toMs - fromMs) / MS_PER_YEAR;

const digit = (s: string, i: number): number => s.charCodeAt(i) - 48;

/**
 * Parses a sheet or catalog date to epoch ms (UTC): `YYYY-MM-DD` (00:00 UTC that day), `YYYY-MM`
 * (the first of the month), or an ISO date-time (UTC when it names no offset). NaN when invalid.
 */
export function parseDateMs(s: string): number {
  const len = s.length;
  if ((len === 10 || len === 7) && s.charCodeAt(4) === 45 && (len === 7 || s.charCodeAt(7) === 45)) {
    const y = digit(s, 0) * 1000 + digit(s, 1) * 100 + digit(s, 2) * 10 + digit(s, 3);
    const m = digit(s, 5) * 10 + digit(s, 6);
    const d = len === 10 ? digit(s, 8) * 10 + digit(s, 9) : 1;
    if (!(y >= 0 && y <= 9999) || !(m >= 1 && m <= 12) || !(d >= 1 && d <= daysInMonth(y, m))) return Number.NaN;
    return daysFromCivil(y, m, d) * MS_PER_DAY;
  }
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(s)) return Number.NaN;
  // A date-time without an offset means UTC here (JavaScript would read it as local time).
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(s);
  return Date.parse(hasZone ? s : `${s}Z`);
}

/** Like parseDateMs, but throws on an invalid date (inputs are validated before they get here). */
export function dateMs(s: string): number {
  const t = parseDateMs(s);
  if (Number.isNaN(t)) throw new MonitorError(`invalid date: ${s}`, { code: ErrorCode.SHEET_INVALID });
  return t;
}
