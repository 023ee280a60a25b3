import { closeSync, mkdirSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { ErrorCode, MonitorError } from '../domain/errors.ts';
import { createLogger, type Logger } from '../logger.ts';

/**
 * Where a command's logs go when a person watches it (issue 14 point 2): on a terminal, a table
 * redrawn in place or a progress bar would be broken by JSON lines, so the logs go to a file the
 * command names once (CCM_LOG_FILE, default `<tmpdir>/ccm/<command>.log`, appended); off a
 * terminal, pino JSON on stdout as always (a supervisor or a log shipper reads it).
 */
export function terminalLogger(command: string, onTerminal: boolean): { logger: Logger; file: string | null } {
  if (!onTerminal) return { logger: createLogger(), file: null };
  const file = process.env.CCM_LOG_FILE || join(tmpdir(), 'ccm', `${command}.log`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    closeSync(openSync(file, 'a'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new MonitorError(`${file}: cannot write the log file (${code}): set CCM_LOG_FILE to a writable path`, { code: ErrorCode.USAGE });
  }
  return { logger: createLogger({ stream: pino.destination({ dest: file, append: true, sync: false }) }), file };
}
