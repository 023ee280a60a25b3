import { logLevel, type logCreator, type LogEntry } from 'kafkajs';
import type { Logger } from '../logger.ts';

/**
 * kafkajs's logs through our one pino logger (STYLE.md 12): kafkajs hands each entry to the
 * function its `logCreator` returns (kafkajs docs "Custom logging"). The entry's `log` object
 * carries the message plus context (broker, groupId, error, stack...); the kafkajs timestamp is
 * dropped since pino stamps its own.
 */
export function kafkaLogCreator(root: Logger): logCreator {
  const log = root.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _timestamp, ...extra } = entry;
      const obj = { namespace, ...extra };
      switch (level) {
        case logLevel.ERROR:
          // kafkajs logs every error response of a request at ERROR in `Connection` (e.g. "The group
          // is rebalancing" during a normal rebalance); the caller retries or reports real failures
          if (namespace === 'Connection') log.warn(obj, message);
          else log.error(obj, message);
          break;
        case logLevel.WARN:
          log.warn(obj, message);
          break;
        case logLevel.INFO:
          // kafkajs's info is its own bookkeeping (consumer starting, group joined, stopped): a
          // person reading the logs wants ours; CCM_LOG_LEVEL=debug shows it
          log.debug(obj, message);
          break;
        case logLevel.DEBUG:
          log.debug(obj, message);
          break;
        case logLevel.NOTHING:
          break;
      }
    };
}

/** The kafkajs level that lets through what pino's level would print (kafkajs filters before the creator). */
export function kafkaLogLevelOf(pinoLevel: string): logLevel {
  switch (pinoLevel) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG;
    case 'info': // its info lines are logged at debug (above): not asked for at info
    case 'warn':
      return logLevel.WARN;
    case 'error':
    case 'fatal':
      return logLevel.ERROR;
    default:
      return logLevel.NOTHING;
  }
}
