/**
 * The one line a person needs for the operating-system errors a command meets at its edges (a
 * missing input file, an output it cannot write, a port already taken): `file: reason`, exit 2,
 * never a stack trace. Anything else is a bug and keeps its stack.
 */
const FILE_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory, a file was expected',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
};

interface SystemError {
  readonly code?: string;
  readonly path?: string;
  readonly syscall?: string;
  readonly address?: string;
  readonly port?: number;
}

/** The busy-port hint: which setting moves the HTTP server (the only port ccm listens on). */
export const BUSY_PORT_HINT = 'set CCM_HTTP_ADDRESS=127.0.0.1:<free port> (or http.port in the config; http.enabled: false turns it off)';

export function systemErrorLine(e: unknown): string | null {
  if (typeof e !== 'object' || e === null) return null;
  const s = e as SystemError;
  if (s.code === 'EADDRINUSE' || s.code === 'EADDRNOTAVAIL') {
    const where = s.address !== undefined ? `${s.address}:${s.port ?? ''}` : 'the HTTP address';
    return `${where}: ${s.code === 'EADDRINUSE' ? 'port already in use' : 'address not available on this host'}: ${BUSY_PORT_HINT}`;
  }
  if (s.code !== undefined && s.path !== undefined && FILE_REASONS[s.code] !== undefined) return `${s.path}: ${FILE_REASONS[s.code]}`;
  return null;
}
