import { describe, expect, it } from "vitest";
import { Backoff, parseRetryAfter } from "./backoff";

describe("Backoff", () => {
  it("doubles up to the cap and resets", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 5000, factor: 2, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(b.attempts).toBe(5);
    b.reset();
    expect(b.next()).toBe(1000);
  });
  it("adds bounded jitter", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 5000, factor: 2, jitter: 0.5 }, () => 1);
    expect(b.next()).toBe(1500);
  });
  it("honours a longer Retry-After, capped at a minute", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 5000, factor: 2, jitter: 0 });
    expect(b.next(3000)).toBe(3000);
    expect(b.next(100)).toBe(2000);
    expect(b.next(10 * 60 * 1000)).toBe(60000);
  });
  it("parses Retry-After", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
  });
});
