import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { boardPage } from './board-page.ts';
import { BoardServer, isLoopback } from './board-server.ts';
import type { BoardState } from './board-state.ts';

/** The board of a command's HTTP server: loopback needs nothing; any other address CCM_BOARD_TOKEN (board-server.ts). */
export function newBoardServer(state: BoardState, address: string, env: NodeJS.ProcessEnv = process.env): BoardServer {
  const token = env.CCM_BOARD_TOKEN || undefined;
  return new BoardServer({ state, page: boardPage, loopback: isLoopback(address), ...(token ? { token } : {}) });
}

/** The URL to print: the server's own, with the token when one is set (the page needs it). */
export function boardUrl(serverUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  const token = env.CCM_BOARD_TOKEN;
  return `${serverUrl}/${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

/** The board's routes for the HTTP server of a command (`/` and `/ws`; null: no board, every request falls through). */
export function boardRoutes(board: BoardServer | null): {
  routes: (req: IncomingMessage, res: ServerResponse) => boolean;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
} {
  return {
    routes: (req, res) => board?.handle(req, res) ?? false,
    upgrade: (req, socket, head) => board?.upgrade(req, socket, head) ?? false,
  };
}
