import { mkdtemp, readdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSource, DONE_DIR } from '../../src/ingest/file/file-source.ts';
import type { SourceResult } from '../../src/ingest/quote-source.ts';
import { testCatalog, fixturePath } from '../fixtures/test-catalog.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('file source', () => {
  it('reads each new CSV or JSON file once, emits its rows, and moves it to .done', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ccm-files-'));
    const src = new FileSource({ name: 'brokers', dir, kind: 'resale', pollMs: 1000 }, { catalog: testCatalog(), clock: () => NOW, autoScan: false });
    const events: SourceResult[] = [];
    await src.start((e) => events.push(e));
    await copyFile(fixturePath('files/broker-quotes.csv'), join(dir, 'broker-quotes.csv'));
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    await writeFile(join(dir, 'upload.json.part'), '{');
    await src.scanNow();
    expect(events.filter((e) => e.kind === 'quote')).toHaveLength(3);
    expect(events.filter((e) => e.kind === 'reject')).toHaveLength(2);
    expect((await readdir(dir)).sort()).toEqual([DONE_DIR, 'notes.txt', 'upload.json.part']);
    await copyFile(fixturePath('files/auction-results.json'), join(dir, 'auction-results.json'));
    await src.scanNow();
    await src.scanNow();
    expect(events.filter((e) => e.kind === 'quote')).toHaveLength(5);
    expect((await readdir(join(dir, DONE_DIR))).sort()).toEqual(['auction-results.json', 'broker-quotes.csv']);
    await src.stop();
  });

  it('reports a missing directory as down once, and up when it appears', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ccm-files-'));
    const watched = join(dir, 'inbox');
    const src = new FileSource({ name: 'auctions', dir: watched, kind: 'resale', pollMs: 1000 }, { catalog: testCatalog(), autoScan: false });
    const events: SourceResult[] = [];
    await src.start((e) => events.push(e));
    await src.scanNow();
    await src.scanNow();
    const { mkdir } = await import('node:fs/promises');
    await mkdir(watched);
    await src.scanNow();
    expect(events).toEqual([{ kind: 'down', reason: `${watched}: ENOENT` }, { kind: 'up' }]);
  });
});
