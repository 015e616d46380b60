import { describe, expect, it } from "vitest";
import {
  WheelAccumulator,
  buttonMask,
  keyDown,
  keyUp,
  parseStatus,
  pointerAbs,
  pointerRel,
  releaseAll,
  wheel,
} from "./encoder";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

describe("input protocol v1 encoder (proto/loco/v1/input.md)", () => {
  it("pointer-abs: 01 buttons x:u16be y:u16be", () => {
    expect(hex(pointerAbs(1, 640, 480))).toBe("01 01 02 80 01 e0");
    expect(hex(pointerAbs(0, 0, 0))).toBe("01 00 00 00 00 00");
    expect(hex(pointerAbs(5, 65535, 1))).toBe("01 05 ff ff 00 01");
  });
  it("pointer-abs clamps to u16", () => {
    expect(hex(pointerAbs(0, -5, 70000))).toBe("01 00 00 00 ff ff");
  });
  it("pointer-rel: 02 buttons dx:i16be dy:i16be, two's complement", () => {
    expect(hex(pointerRel(0, 5, -3))).toBe("02 00 00 05 ff fd");
    expect(hex(pointerRel(4, -256, 300))).toBe("02 04 ff 00 01 2c");
    expect(hex(pointerRel(0, 40000, -40000))).toBe("02 00 7f ff 80 00");
  });
  it("wheel: 03 buttons dx:i8 dy:i8", () => {
    expect(hex(wheel(0, 0, 1))).toBe("03 00 00 01");
    expect(hex(wheel(1, -1, -2))).toBe("03 01 ff fe");
    expect(hex(wheel(0, 500, -500))).toBe("03 00 7f 80");
  });
  it("key-down / key-up: type n ascii", () => {
    expect(hex(keyDown("KeyA"))).toBe("04 04 4b 65 79 41");
    expect(hex(keyUp("Enter"))).toBe("05 05 45 6e 74 65 72");
    expect(keyDown("ShiftLeft").length).toBe(2 + 9);
  });
  it("key codes must be 1..32 ASCII characters", () => {
    expect(() => keyDown("")).toThrow(RangeError);
    expect(() => keyDown("X".repeat(33))).toThrow(RangeError);
    expect(() => keyDown("Ünknown")).toThrow(RangeError);
    expect(keyDown("X".repeat(32)).length).toBe(34);
  });
  it("release-all is the single byte 06", () => {
    expect(hex(releaseAll())).toBe("06");
  });
  it("maps DOM buttons (1 left, 2 right, 4 middle) to the RFB mask (1 left, 2 middle, 4 right)", () => {
    expect(buttonMask(1)).toBe(1);
    expect(buttonMask(2)).toBe(4);
    expect(buttonMask(4)).toBe(2);
    expect(buttonMask(7)).toBe(7);
    expect(buttonMask(8)).toBe(0);
  });
  it("accumulates wheel deltas into notches", () => {
    const w = new WheelAccumulator();
    expect(w.add(0, 100, 0)).toEqual([0, 1]);
    expect(w.add(0, 40, 0)).toEqual([0, 0]);
    expect(w.add(0, 70, 0)).toEqual([0, 1]);
    expect(w.add(0, -3, 1)).toEqual([0, -2]); // -3 lines after the 0.1 notch left over
    expect(new WheelAccumulator().add(2, -3, 1)).toEqual([2, -3]);
  });
  it("parses the agent's status message and ignores anything else", () => {
    const s = parseStatus(
      '{"type":"status","role":"controller","controller":{"id":"v-1a2b","name":"Ana"},"width":800,"height":600,"relative":true}',
    );
    expect(s).toEqual({
      type: "status",
      role: "controller",
      controller: { id: "v-1a2b", name: "Ana" },
      width: 800,
      height: 600,
      relative: true,
    });
    expect(parseStatus('{"type":"status","role":"spectator","controller":null}')?.controller).toBeNull();
    expect(parseStatus("not json")).toBeUndefined();
    expect(parseStatus('{"type":"other"}')).toBeUndefined();
    expect(parseStatus("null")).toBeUndefined();
  });
});
