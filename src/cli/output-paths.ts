import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { MonitorError, ErrorCode } from '../domain/errors.ts';

/**
 * Output paths checked before a command does its work, so that an hour of backfill or replay
 * never ends on "cannot write the report": one `file: reason` line and exit 2 instead.
 */
const unwritable = (path: string, reason: string): MonitorError => new MonitorError(`${path}: ${reason}`, { code: ErrorCode.USAGE });
const canWrite = (path: string): Promise<boolean> => access(path, constants.W_OK).then(() => true, () => false);

/** A file the command will create or overwrite: not a directory, in a directory that exists and is writable. */
export async function assertWritableFile(path: string): Promise<void> {
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw unwritable(path, 'is a directory, a file was expected');
  if (existing !== null) {
    if (!(await canWrite(path))) throw unwritable(path, 'cannot be written (permission denied)');
    return;
  }
  const dir = dirname(resolve(path));
  const d = await stat(dir).catch(() => null);
  if (d === null) throw unwritable(path, `no such directory: ${dirname(path)}`);
  if (!d.isDirectory()) throw unwritable(path, `${dirname(path)} is not a directory`);
  if (!(await canWrite(dir))) throw unwritable(path, `${dirname(path)} cannot be written (permission denied)`);
}

/** A directory the command writes into, created if missing: it, or its nearest existing ancestor, is a writable directory. */
export async function assertWritableDir(dir: string): Promise<void> {
  let at = resolve(dir);
  for (;;) {
    const s = await stat(at).catch(() => null);
    if (s !== null) {
      if (!s.isDirectory()) throw unwritable(dir, `${at} is not a directory`);
      if (!(await canWrite(at))) throw unwritable(dir, `${at} cannot be written (permission denied)`);
      return;
    }
    const parent = dirname(at);
    if (parent === at) throw unwritable(dir, 'no such directory');
    at = parent;
  }
}
