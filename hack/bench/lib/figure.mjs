// A figure is a measured number or the reason it was not measured; nothing in between, nothing invented.

/** measured wraps a number (NaN and infinities are refused: they would be a figure nobody measured). */
export function measured(value, unit, detail) {
  if (!Number.isFinite(value)) return notMeasured(`no valid samples (${value})`, 'error', detail);
  return { value, unit, ...(detail ? { detail } : {}) };
}

/**
 * notMeasured records why a figure is absent. cause: 'component' (a program it needs does not exist or build yet),
 * 'environment' (the machine lacks something), 'error' (the harness or the program under test failed).
 */
export function notMeasured(reason, cause = 'error', detail) {
  return { missing: reason, cause, ...(detail ? { detail } : {}) };
}

/** guard runs fn and turns a thrown error into notMeasured for every key in keys. */
export async function guard(keys, fn, log) {
  try {
    return await fn();
  } catch (err) {
    log?.(`failed: ${err.stack || err}`);
    const reason = String(err.message || err).split('\n')[0].slice(0, 200);
    return Object.fromEntries(keys.map((k) => [k, notMeasured(reason, err.cause === 'component' ? 'component' : 'error')]));
  }
}

/** componentError is thrown when a program the figure needs is missing. */
export function componentError(reason) {
  return new Error(reason, { cause: 'component' });
}
