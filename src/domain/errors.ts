/**
 * One error family for the whole project (STYLE.md 7). Codes are listed here once.
 * Lives in the domain so that the pure core can return typed failures; it does no I/O.
 */
export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  SHEET_INVALID: 'SHEET_INVALID',
  MARKET_INVALID: 'MARKET_INVALID',
  QUOTE_INVALID: 'QUOTE_INVALID',
  SINK_WRITE_FAILED: 'SINK_WRITE_FAILED',
  /** The sink refused the points themselves (InfluxDB 400, 413, 422): a poison point, isolated and dead-lettered. */
  SINK_POINTS_REFUSED: 'SINK_POINTS_REFUSED',
  BUS_FAILED: 'BUS_FAILED',
  SOURCE_FAILED: 'SOURCE_FAILED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  RUN_EXISTS: 'RUN_EXISTS',
  /** An input file the user named (a stream file, a CSV) that cannot be read as what it should be. */
  FILE_INVALID: 'FILE_INVALID',
  USAGE: 'USAGE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface MonitorErrorOptions {
  readonly code: ErrorCode;
  readonly retriable?: boolean;
  readonly cause?: unknown;
  /** For validation errors: each problem as `file: path: reason`. */
  readonly problems?: readonly string[];
}

export class MonitorError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly problems: readonly string[];
  constructor(message: string, options: MonitorErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MonitorError';
    this.code = options.code;
    this.retriable = options.retriable ?? false;
    this.problems = options.problems ?? [];
  }
}

export const isMonitorError = (e: unknown): e is MonitorError => e instanceof MonitorError;

/** Exit codes of the CLI: 2 for bad input (config, sheets, usage), 1 for everything else. */
export const exitCodeOf = (e: unknown): number =>
  isMonitorError(e) &&
  (e.code === ErrorCode.CONFIG_INVALID || e.code === ErrorCode.SHEET_INVALID || e.code === ErrorCode.MARKET_INVALID || e.code === ErrorCode.USAGE || e.code === ErrorCode.RUN_EXISTS || e.code === ErrorCode.FILE_INVALID)
    ? 2
    : 1;
