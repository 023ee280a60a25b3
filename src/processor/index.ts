/** What others may use of the processor (STYLE.md 15): the Processor, its options and metrics. */
export { Processor, WRITE_DEFAULTS, type ProcessorBus, type ProcessorOptions, type ProcessorTopics, type WriteBounds } from './processor.ts';
export { ProcessorMetrics } from './processor-metrics.ts';
export { DEAD_LETTER_STAGE, type DeadLetterStage } from './output-records.ts';
