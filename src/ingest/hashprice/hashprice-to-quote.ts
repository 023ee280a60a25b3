import type { Mapped } from '../quote-source.ts';
import { quoted, rejected } from '../quote-source.ts';

/**
 * Hashprice, USD per TH/s per day (shared/DOMAIN.md units), derived from the BTC index, the network
 * difficulty and the average fees per block:
 *   network hashrate (H/s) = difficulty * 2^32 / 600      (one block per 600 s on average)
 *   hashprice = 144 blocks/day * (subsidy + fees) BTC * BTCUSD / (network hashrate / 1e12)
 * With difficulty 1.2e14, BTC at 100,000 USD and 3.15 BTC per block this gives about 0.053,
 * the order of shared/DOMAIN.md's example 0.048.
 */
export const BLOCKS_PER_DAY = 144;
export const HASHES_PER_DIFFICULTY = 2 ** 32;
export const TARGET_BLOCK_S = 600;

export function hashpriceUsdPerThDay(o: { btcUsd: number; difficulty: number; subsidyBtc: number; feesBtcPerBlock: number }): number {
  const networkThS = (o.difficulty * HASHES_PER_DIFFICULTY) / TARGET_BLOCK_S / 1e12;
  return (BLOCKS_PER_DAY * (o.subsidyBtc + o.feesBtcPerBlock) * o.btcUsd) / networkThS;
}

export function derivedHashpriceQuote(
  inputs: { btcUsd: number | null; difficulty: number; feesBtcPerBlock: number; subsidyBtc: number },
  o: { receivedAt: number; source?: string },
): Mapped {
  const raw = { ...inputs };
  if (inputs.btcUsd === null) return rejected('hashprice: no BTC price yet from the crypto feeds', raw);
  if (!Number.isFinite(inputs.difficulty) || inputs.difficulty <= 0) return rejected(`hashprice: difficulty ${inputs.difficulty} is not positive`, raw);
  if (!Number.isFinite(inputs.feesBtcPerBlock) || inputs.feesBtcPerBlock < 0) return rejected(`hashprice: fees ${inputs.feesBtcPerBlock} are not a non-negative number`, raw);
  const price = hashpriceUsdPerThDay({ btcUsd: inputs.btcUsd, difficulty: inputs.difficulty, subsidyBtc: inputs.subsidyBtc, feesBtcPerBlock: inputs.feesBtcPerBlock });
  return quoted({ v: 1, instrument: 'hashprice', price, source: o.source ?? 'hashprice-derived', ts: o.receivedAt, tsSource: 'receipt', receivedAt: o.receivedAt }, raw);
}
