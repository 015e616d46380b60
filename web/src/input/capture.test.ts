import { describe, expect, it } from "vitest";
import { toFramebuffer } from "./capture";

describe("toFramebuffer", () => {
  const rect = { left: 100, top: 50, width: 1000, height: 600 }; // wider than 4:3: pillarboxed
  it("maps the displayed picture onto framebuffer pixels", () => {
    // 800x600 video in 1000x600: scale 1, x offset 100 inside the rect.
    expect(toFramebuffer(200, 50, rect, 800, 600, 800, 600)).toEqual([0, 0]);
    expect(toFramebuffer(600, 350, rect, 800, 600, 800, 600)).toEqual([400, 300]);
    expect(toFramebuffer(999.9, 649.9, rect, 800, 600, 800, 600)).toEqual([799, 599]);
  });
  it("scales a smaller layer up to the framebuffer size", () => {
    expect(toFramebuffer(600, 350, rect, 400, 300, 800, 600)).toEqual([400, 300]);
  });
  it("ignores the letterbox", () => {
    expect(toFramebuffer(150, 300, rect, 800, 600, 800, 600)).toBeUndefined();
    expect(toFramebuffer(1050, 300, rect, 800, 600, 800, 600)).toBeUndefined();
  });
  it("needs a video size", () => {
    expect(toFramebuffer(600, 350, rect, 0, 0, 800, 600)).toBeUndefined();
  });
});
