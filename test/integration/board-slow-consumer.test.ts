import { until as poll } from '../support/poll.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { boardRoutes } from '../../src/board/board-wiring.ts';
import { startHttpServer } from '../../src/server/http-server.ts';
import { BoardState } from '../../src/board/board-state.ts';
import { BoardServer, DROP_BUFFERED_BYTES, MAX_BUFFERED_BYTES } from '../../src/board/board-server.ts';
import { boardPage } from '../../src/board/board-page.ts';
import type { StepOutput } from '../../src/domain/step/step-types.ts';
import type { IndexRow, ServerMessage } from '../../src/board/protocol.ts';

/**
 * A slow consumer, for real (docs/board.md "Slow clients"): a `ws` client whose TCP socket stops
 * reading (its socket paused: the kernel's buffers fill, then the server's), while the server
 * pushes many large deltas (20,000 index rows each, some 2 MB). The server's buffered bytes for it
 * stay bounded (at most MAX_BUFFERED_BYTES plus one message, far below what was pushed), it is not
 * dropped, and once it reads again it gets the latest state of every key in one snapshot, not
 * the deltas it missed. A client that reads gets every delta meanwhile.
 */
const KEYS = 20_000;
const ROUNDS = 30;
const T0 = Date.parse('2025-10-01T00:00:00Z');
const instruments = Array.from({ length: KEYS }, (_, k) => `rental:SLOW-CONSUMER-${String(k).padStart(6, '0')}`);
const round = (r: number): StepOutput[] =>
  instruments.map((instrument) => ({ kind: 'index', eventId: `${instrument}@${r}`, instrument, ts: T0 + r * 1000, value: r, sources: 3, stale: false, rejected: 0, bySource: {} }));

let state: BoardState;
let board: BoardServer;
let http: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  state = new BoardState('slow', false);
  // flushed by the test only: each push is one flush
  board = new BoardServer({ state, page: boardPage, loopback: true, flushMs: 3_600_000 });
  http = await startHttpServer({
    address: '127.0.0.1',
    port: 0,
    registries: [],
    ready: () => true,
    ...boardRoutes(board),
  });
});

afterAll(async () => {
  board?.close();
  await http?.close();
});

const until = (what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> => poll(what, cond, { timeoutMs });

const open = (): Promise<{ ws: WebSocket; messages: ServerMessage[] }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(http.url.replace('http', 'ws') + '/ws');
    const messages: ServerMessage[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as ServerMessage));
    ws.on('open', () => resolve({ ws, messages }));
    ws.on('error', reject);
  });

describe('a board client that stops reading', () => {
  it('never makes the server buffer more than a bound, and gets the latest state per key once it reads again', { timeout: 120_000 }, async () => {
    const slow = await open();
    const fast = await open();
    await until('the snapshots', () => slow.messages.length === 1 && fast.messages.length === 1);
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();

    let pushed = 0;
    let largest = 0;
    for (let r = 1; r <= ROUNDS; r++) {
      state.observe(round(r));
      const before = board.stats.bytesSent;
      const sentBefore = board.stats.messagesSent;
      board.flush();
      const sent = board.stats.messagesSent - sentBefore;
      if (sent > 0) largest = Math.max(largest, (board.stats.bytesSent - before) / sent);
      pushed += Buffer.byteLength(JSON.stringify({ v: 1, type: 'indexes', rows: instruments.map((i) => ({ instrument: i, value: r, sources: 3, stale: false, ts: T0 + r * 1000 })) }));
      // the reading client reads each delta before the next: the loop gives the sockets their turn
      await until(`round ${r} at the reading client`, () => fast.messages.length === 1 + r);
    }
    expect(largest).toBeGreaterThan(1_000_000);
    // the server's buffer for the stalled client: bounded by the threshold plus one message, while
    // what was pushed at it would have been many times that
    expect(board.stats.maxBufferedBytes).toBeLessThanOrEqual(MAX_BUFFERED_BYTES + largest);
    expect(pushed).toBeGreaterThan(10 * (MAX_BUFFERED_BYTES + largest));
    expect(board.stats.maxBufferedBytes).toBeLessThan(DROP_BUFFERED_BYTES);
    expect(board.stats.deltasWithheld).toBeGreaterThan(ROUNDS / 2);
    expect(board.stats.clientsDropped).toBe(0);
    expect(board.clientCount).toBe(2);
    // the reading client got every delta, in order, each with its round's values
    expect(fast.messages.slice(1).map((m) => (m.type === 'indexes' ? m.rows[0].value : null))).toEqual(Array.from({ length: ROUNDS }, (_, k) => k + 1));

    // reading again: the buffered messages drain, then the next flush sends one snapshot of the latest
    const resent = board.stats.snapshotsResent;
    socket.resume();
    await until('a fresh snapshot at the slow client', () => {
      board.flush();
      return slow.messages.length > 1 && slow.messages.at(-1)!.type === 'snapshot';
    });
    expect(board.stats.snapshotsResent).toBe(resent + 1);
    const last = slow.messages.at(-1) as Extract<ServerMessage, { type: 'snapshot' }>;
    const latest = new Map<string, IndexRow>(last.indexes.map((i) => [i.instrument, i]));
    expect(latest.size).toBe(KEYS);
    expect([...latest.values()].every((i) => i.value === ROUNDS && i.ts === T0 + ROUNDS * 1000)).toBe(true);
    // conflated: the few deltas that were in flight when it stopped, then the snapshot; not the 30 rounds
    const deltas = slow.messages.slice(1, -1);
    expect(deltas.every((m) => m.type === 'indexes')).toBe(true);
    expect(deltas.length).toBeLessThan(ROUNDS / 2);
    // deltas in flight arrive whole and in order, a prefix of the rounds
    expect(deltas.map((m) => (m.type === 'indexes' ? m.rows[0].value : null))).toEqual(Array.from({ length: deltas.length }, (_, k) => k + 1));
    slow.ws.close();
    fast.ws.close();
    await until('the clients gone', () => board.clientCount === 0);
  });
});
