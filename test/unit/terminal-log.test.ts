import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalLogger } from '../../src/cli/terminal-log.ts';
import { isMonitorError } from '../../src/domain/errors.ts';
import { ccm } from '../support/cli.ts';

/** Issue 14 point 2: where logs go on a terminal, and the one-line failures of `ccm run`. */
describe('logs on a terminal', () => {
  it('go to the file CCM_LOG_FILE names, as JSON lines, while stdout stays for the table', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ccm-log-')), 'run.log');
    process.env.CCM_LOG_FILE = file;
    try {
      const { logger, file: named } = terminalLogger('run', true);
      expect(named).toBe(file);
      logger.info({ component: 'test' }, 'into the file');
      const deadline = Date.now() + 5_000;
      while (!readFileSync(file, 'utf8').includes('into the file') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(JSON.parse(readFileSync(file, 'utf8').trim().split('\n').at(-1) ?? '{}')).toMatchObject({ component: 'test', msg: 'into the file' });
    } finally {
      delete process.env.CCM_LOG_FILE;
    }
  });

  it('off a terminal, no file', () => {
    expect(terminalLogger('run', false).file).toBeNull();
  });

  it('an unwritable log file is one line naming the file and CCM_LOG_FILE, a usage error (exit 2)', () => {
    // a directory that is a file: ENOTDIR, as a path nobody can write
    const notADir = join(mkdtempSync(join(tmpdir(), 'ccm-log-')), 'file');
    writeFileSync(notADir, '');
    process.env.CCM_LOG_FILE = join(notADir, 'run.log');
    try {
      const e = (() => {
        try {
          terminalLogger('run', true);
          return null;
        } catch (x) {
          return x;
        }
      })();
      expect(isMonitorError(e) && e.code).toBe('USAGE');
      expect(isMonitorError(e) && e.message).toMatch(/^\S+\/file\/run\.log: cannot write the log file \(E[A-Z]+\): set CCM_LOG_FILE to a writable path$/);
    } finally {
      delete process.env.CCM_LOG_FILE;
    }
  });
});

describe('ccm run on a busy port', () => {
  let busy: Server;
  let port = 0;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => busy.close(() => r())));

  it('says which variable moves it, in one line, and exits 2 before running', { timeout: 30_000 }, async () => {
    const saved = { ...process.env };
    process.env.CCM_HTTP_ADDRESS = `127.0.0.1:${port}`;
    try {
      const r = await ccm(['run', '--mode', 'demo', '--no-table', '--for-seconds', '5']);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l.includes('port already in use'))).toEqual([`127.0.0.1:${port}: port already in use: set CCM_HTTP_ADDRESS=127.0.0.1:<free port> (or http.port in the config; http.enabled: false turns it off)`]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      process.env = saved;
    }
  });
});
