import { describe, expect, it } from "vitest";
import type { Instance } from "../api/types";
import { badgeOf } from "../api/types";
import { clampPage, ordered, page, pageCount, reduce, type Instances } from "./instances";

const inst = (id: string, ordinal: number, state: Instance["state"] = "INSTANCE_STATE_HEALTHY"): Instance => ({
  id,
  ordinal,
  state,
});
const empty: Instances = new Map();

describe("instances reducer", () => {
  it("adds from snapshot and updates in place", () => {
    let s = reduce(empty, { kind: "event", event: { type: "EVENT_TYPE_SNAPSHOT", instance: inst("b", 1) } });
    s = reduce(s, { kind: "event", event: { type: "EVENT_TYPE_SNAPSHOT", instance: inst("a", 0) } });
    s = reduce(s, {
      kind: "event",
      event: { type: "EVENT_TYPE_UPDATED", instance: inst("a", 0, "INSTANCE_STATE_DEGRADED") },
    });
    expect(ordered(s).map((i) => [i.id, i.state])).toEqual([
      ["a", "INSTANCE_STATE_DEGRADED"],
      ["b", "INSTANCE_STATE_HEALTHY"],
    ]);
  });
  it("removes on REMOVED and on state GONE", () => {
    let s = reduce(empty, { kind: "reset", instances: [inst("a", 0), inst("b", 1), inst("c", 2)] });
    s = reduce(s, { kind: "event", event: { type: "EVENT_TYPE_REMOVED", instance: inst("a", 0) } });
    s = reduce(s, { kind: "event", event: { type: "EVENT_TYPE_UPDATED", instance: inst("b", 1, "INSTANCE_STATE_GONE") } });
    expect([...s.keys()]).toEqual(["c"]);
  });
  it("returns the same state for no-ops and junk", () => {
    const s = reduce(empty, { kind: "reset", instances: [inst("a", 0)] });
    expect(reduce(s, { kind: "event", event: { type: "EVENT_TYPE_REMOVED", instance: inst("zz", 9) } })).toBe(s);
    expect(reduce(s, { kind: "event", event: {} })).toBe(s);
    expect(reduce(s, { kind: "event", event: { instance: { id: "" } } })).toBe(s);
  });
  it("reset replaces everything (after a broker restart) and drops GONE entries", () => {
    const s = reduce(empty, { kind: "reset", instances: [inst("a", 0), inst("b", 1)] });
    const t = reduce(s, { kind: "reset", instances: [inst("b", 1), inst("x", 2, "INSTANCE_STATE_GONE")] });
    expect([...t.keys()]).toEqual(["b"]);
  });
  it("orders by ordinal, then id", () => {
    const s = reduce(empty, { kind: "reset", instances: [inst("z", 2), inst("m", 0), inst("b", 2), { id: "first" }] });
    expect(ordered(s).map((i) => i.id)).toEqual(["first", "m", "b", "z"]);
  });
});

describe("paging", () => {
  const list = Array.from({ length: 20 }, (_, i) => i);
  it("shows nine per page", () => {
    expect(pageCount(0)).toBe(1);
    expect(pageCount(9)).toBe(1);
    expect(pageCount(10)).toBe(2);
    expect(pageCount(20)).toBe(3);
    expect(page(list, 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(page(list, 2)).toEqual([18, 19]);
  });
  it("clamps a page that no longer exists", () => {
    expect(page(list, 7)).toEqual([18, 19]);
    expect(page(list, -1)).toEqual(page(list, 0));
    expect(clampPage(2, 9)).toBe(0);
    expect(clampPage(2, 19)).toBe(2);
  });
});

describe("badges", () => {
  it("maps registry states", () => {
    expect(badgeOf(inst("a", 0, "INSTANCE_STATE_HEALTHY"))).toBe("healthy");
    expect(badgeOf(inst("a", 0, "INSTANCE_STATE_DEGRADED"))).toBe("degraded");
    expect(badgeOf(inst("a", 0, "INSTANCE_STATE_UNHEALTHY"))).toBe("unhealthy");
    expect(badgeOf(inst("a", 0, "INSTANCE_STATE_EXPECTED"))).toBe("connecting");
    expect(badgeOf(inst("a", 0, "INSTANCE_STATE_ATTACHED"))).toBe("connecting");
    expect(badgeOf({ id: "a" })).toBe("connecting");
  });
});
