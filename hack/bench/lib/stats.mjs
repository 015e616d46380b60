// Percentiles and the turning of page samples into figures.

/** percentile returns the p-th percentile (0..100) of values by nearest rank; NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1];
}

/**
 * latencyFigures joins what the page saw ([stamp, shownAtMs]) with when the server painted each stamp
 * (Map stamp -> paintedAtMs) and returns p50/p95/p99 of shown - painted, frames shown per second over the window,
 * and how many samples had no paint record (they are left out, never guessed).
 */
export function latencyFigures(samples, painted, windowSecs) {
  const lat = [];
  let unmatched = 0;
  for (const [stamp, shown] of samples) {
    const p = painted.get(stamp);
    if (p === undefined) { unmatched++; continue; }
    lat.push(shown - p);
  }
  return {
    p50: percentile(lat, 50),
    p95: percentile(lat, 95),
    p99: percentile(lat, 99),
    framesShownPerSec: samples.length / windowSecs,
    matched: lat.length,
    unmatched,
  };
}

/** longestGap returns the longest time between two consecutive shown frames in samples, in ms. */
export function longestGap(samples) {
  let worst = 0;
  for (let i = 1; i < samples.length; i++) worst = Math.max(worst, samples[i][1] - samples[i - 1][1]);
  return worst;
}
