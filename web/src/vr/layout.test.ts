import { describe, expect, it } from "vitest";
import { WALL_RADIUS, wallLayout } from "./layout";

describe("wallLayout", () => {
  it("puts nine screens in three rows on an arc, each facing the viewer", () => {
    const l = wallLayout(9);
    expect(l).toHaveLength(9);
    for (const p of l) {
      expect(Math.hypot(p.x, p.z)).toBeCloseTo(WALL_RADIUS, 6);
      // The plane's normal (sin yaw, 0, cos yaw) points back at the origin.
      const yaw = (p.yaw * Math.PI) / 180;
      const toCentre = [-p.x / WALL_RADIUS, -p.z / WALL_RADIUS];
      expect(Math.sin(yaw)).toBeCloseTo(toCentre[0], 6);
      expect(Math.cos(yaw)).toBeCloseTo(toCentre[1], 6);
    }
    expect(new Set(l.map((p) => `${p.x.toFixed(2)},${p.y.toFixed(2)}`)).size).toBe(9);
    expect(l[0].y).toBeGreaterThan(l[3].y);
    expect(l[4].x).toBeCloseTo(0, 6);
  });
  it("centres a short last row", () => {
    const l = wallLayout(4);
    expect(l[3].x).toBeCloseTo(0, 6);
  });
});
