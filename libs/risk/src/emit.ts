/**
 * Internal (not re-exported from the index): calls every listener with `e`. The caller's state is
 * already consistent, so one throwing listener does not starve the others; the first error is
 * rethrown after all listeners ran.
 */
export function emitAll<E>(listeners: Iterable<(e: E) => void>, e: E): void {
  let first: unknown;
  let failed = false;
  for (const l of [...listeners]) {
    try {
      l(e);
    } catch (err) {
      if (!failed) first = err;
      failed = true;
    }
  }
  if (failed) throw first;
}
