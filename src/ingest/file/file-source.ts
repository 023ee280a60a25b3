import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../../domain/sheet/catalog.ts';
import type { FileSourceConfig } from '../../config/ingest-schema.ts';
import type { Logger } from '../../logger.ts';
import type { Emit, QuoteSource } from '../quote-source.ts';
import { fileToQuotes } from './file-to-quote.ts';

/**
 * A directory watched for new .csv and .json files (broker quotes, auction results). It is scanned
 * every `pollMs` (fs.watch misses events on network mounts); each file is read once, its rows become
 * quotes or rejections, and the file is moved into `<dir>/.done/` so a restart does not publish it
 * twice. Writers should write elsewhere (or to a `.tmp`/`.part` name) and rename into the directory,
 * so a half-written file is never read. Quotes may be old (auctions): no staleness check.
 */
export const DONE_DIR = '.done';

export class FileSource implements QuoteSource {
  readonly name: string;
  readonly acceptsOldQuotes = true;
  private emit: Emit | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private down = false;
  private readonly clock: () => number;

  constructor(
    private readonly cfg: Pick<FileSourceConfig, 'name' | 'dir' | 'kind' | 'pollMs'>,
    private readonly deps: { catalog: Catalog; logger?: Logger; clock?: () => number; autoScan?: boolean },
  ) {
    this.name = cfg.name;
    this.clock = deps.clock ?? Date.now;
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    if (this.deps.autoScan === false) return;
    const tick = (): void => {
      void this.scanNow().finally(() => {
        if (this.emit) this.timer = setTimeout(tick, this.cfg.pollMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.emit = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.scanning) await this.scanning.catch(() => undefined);
  }

  /** Reads every new file once; resolves when done (tests call it directly). */
  scanNow(): Promise<void> {
    if (!this.scanning) {
      this.scanning = this.scan().finally(() => {
        this.scanning = null;
      });
    }
    return this.scanning;
  }

  private async scan(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.cfg.dir, { withFileTypes: true })).filter((d) => d.isFile() && /\.(csv|json)$/i.test(d.name) && !d.name.startsWith('.')).map((d) => d.name).sort();
    } catch (e) {
      if (!this.down) this.emit?.({ kind: 'down', reason: `${this.cfg.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      this.down = true;
      return;
    }
    if (this.down) this.emit?.({ kind: 'up' });
    this.down = false;
    for (const name of names) {
      const path = join(this.cfg.dir, name);
      const text = await readFile(path, 'utf8');
      for (const m of fileToQuotes(name, text, { catalog: this.deps.catalog, kind: this.cfg.kind, source: this.name, receivedAt: this.clock() })) this.emit?.(m);
      await mkdir(join(this.cfg.dir, DONE_DIR), { recursive: true });
      await rename(path, join(this.cfg.dir, DONE_DIR, name));
      this.deps.logger?.info({ source: this.name, file: path }, 'file read');
    }
  }
}
