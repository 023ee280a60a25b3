import { describe, expect, it } from 'vitest';
import { IngestConfigSchema } from '../../src/config/ingest-schema.ts';

describe('ingest config schema', () => {
  it('accepts an empty section with three exchanges and the BTC and ETH pairs against USD, USDT and USDC', () => {
    const c = IngestConfigSchema.parse({});
    expect(c.crypto.exchanges.map((e) => e.name)).toEqual(['coinbase', 'kraken', 'bitstamp']);
    expect(c.crypto.symbols).toEqual(['BTC/USD', 'BTC/USDT', 'BTC/USDC', 'ETH/USD', 'ETH/USDT', 'ETH/USDC']);
    expect(c.crypto.receiptTimeExchanges).toContain('kraken');
    expect(c.lambda.apiKeyEnv).toBe('LAMBDA_API_KEY');
    expect(c.ebay.tokenEnv).toBe('EBAY_OAUTH_TOKEN');
    expect(c.http).toEqual([]);
  });

  it('rejects unknown keys, bad bounds and a generic source without a price path, naming the key', () => {
    expect(IngestConfigSchema.safeParse({ exchanges: [] }).success).toBe(false);
    const bounds = IngestConfigSchema.safeParse({ bounds: { BTC: { min: 10, max: 5 } } });
    expect(bounds.success).toBe(false);
    expect(bounds.error?.issues[0].path).toEqual(['bounds', 'BTC']);
    const http = IngestConfigSchema.safeParse({ http: [{ name: 'feed', kind: 'rental', url: 'http://127.0.0.1/x' }] });
    expect(http.error?.issues[0].path).toEqual(['http', 0, 'pricePath']);
  });
});
