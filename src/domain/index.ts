export * from './errors.ts';
export * from './instruments.ts';
export * from './quote.ts';
export * from './market.ts';
export * from './sheet.ts';
export * from './catalog.ts';
export * from './valuation-types.ts';
export * from './step-types.ts';
