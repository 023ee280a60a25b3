/** The scenario simulator: what the CLI (`ccm simulate`) and the demo mode use. */
export { simulateQuotes, simulatedInstruments, type SimulateOptions } from './simulate-quotes.ts';
export { loadScenariosFile, toScenariosFile, DEFAULT_SCENARIOS_PATH } from './load-scenarios.ts';
export { ScenariosFileSchema, REQUIRED_SCENARIOS, type ScenariosFile, type ScenarioSpec, type StartPrices, type SimModel, type Shock } from './scenario-schema.ts';
export { createPrng, mulberry32, type Prng } from './prng.ts';
