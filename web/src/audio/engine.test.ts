import { describe, expect, it } from "vitest";
import { AudioEngine } from "./engine";

describe("AudioEngine: who is heard", () => {
  it("starts with every tile muted in the grid; a tile's own mute and volume apply", () => {
    const a = new AudioEngine();
    expect(a.heard("i0")).toBe(false);
    a.toggleMute("i0");
    expect(a.heard("i0")).toBe(true);
    a.set("i0", { volume: 0 });
    expect(a.heard("i0")).toBe(false);
    a.set("i0", { volume: 0.5 });
    a.toggleMute("i0");
    expect(a.heard("i0")).toBe(false);
  });
  it("hears only the focused instance, unless it was muted by hand", () => {
    const a = new AudioEngine();
    a.toggleMute("i1"); // unmuted in the grid
    a.setFocus("i0");
    expect(a.heard("i0")).toBe(true);
    expect(a.heard("i1")).toBe(false);
    a.toggleMute("i0");
    expect(a.heard("i0")).toBe(false);
    a.toggleMute("i0");
    expect(a.heard("i0")).toBe(true);
    a.setFocus(null);
    expect(a.heard("i1")).toBe(true);
  });
  it("keeps a stable settings object per instance (React snapshots compare by identity)", () => {
    const a = new AudioEngine();
    expect(a.getSettings("x")).toBe(a.getSettings("x"));
  });
});
