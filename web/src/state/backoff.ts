// Reconnect back-off: exponential with a cap, optional jitter, and a server's Retry-After wins
// when it is longer.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction of the delay added at random (0 = deterministic). */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 1000, maxMs: 15000, factor: 2, jitter: 0.2 };

export class Backoff {
  private attempt = 0;
  constructor(
    private readonly opts: BackoffOptions = defaultBackoff,
    private readonly random: () => number = Math.random,
  ) {}

  /** next returns the delay before the next attempt and counts it. */
  next(retryAfterMs?: number): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * this.opts.factor ** this.attempt);
    this.attempt++;
    const d = Math.round(base * (1 + this.opts.jitter * this.random()));
    return retryAfterMs !== undefined && retryAfterMs > d ? Math.min(retryAfterMs, 60000) : d;
  }

  /** reset is called after a success. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** parseRetryAfter reads a Retry-After header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}
