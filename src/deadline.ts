/**
 * Waits for `work` at most `ms`. On time it gives `work`'s value (or throws its error); past the
 * deadline it gives 'timeout' and leaves `work` running, with a handler on it: a rejection that
 * comes after the deadline (a Kafka lookup failing once the client is closed) is dropped, never an
 * unhandled rejection, which would end the process with exit code 1.
 */
export async function within<T>(ms: number, work: Promise<T>): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(t);
    work.catch(() => undefined);
  }
}
