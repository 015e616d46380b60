// Encoder for the DataChannel input protocol, version 1 (proto/loco/v1/input.md): one binary
// message per event, integers big-endian. The tests check the exact bytes of every type.

export const MSG_POINTER_ABS = 0x01;
export const MSG_POINTER_REL = 0x02;
export const MSG_WHEEL = 0x03;
export const MSG_KEY_DOWN = 0x04;
export const MSG_KEY_UP = 0x05;
export const MSG_RELEASE_ALL = 0x06;

/** Longest KeyboardEvent.code the protocol carries. */
export const MAX_CODE = 32;

/** RFB button mask bits: bit 0 left, bit 1 middle, bit 2 right. */
export const BUTTON_LEFT = 1;
export const BUTTON_MIDDLE = 2;
export const BUTTON_RIGHT = 4;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));

/** buttonMask maps DOM MouseEvent.buttons (1 left, 2 right, 4 middle) to the RFB mask. */
export function buttonMask(domButtons: number): number {
  return (
    (domButtons & 1 ? BUTTON_LEFT : 0) |
    (domButtons & 4 ? BUTTON_MIDDLE : 0) |
    (domButtons & 2 ? BUTTON_RIGHT : 0)
  );
}

export function pointerAbs(buttons: number, x: number, y: number): Uint8Array {
  const b = new Uint8Array(6);
  const v = new DataView(b.buffer);
  v.setUint8(0, MSG_POINTER_ABS);
  v.setUint8(1, buttons & 0xff);
  v.setUint16(2, clamp(x, 0, 0xffff));
  v.setUint16(4, clamp(y, 0, 0xffff));
  return b;
}

export function pointerRel(buttons: number, dx: number, dy: number): Uint8Array {
  const b = new Uint8Array(6);
  const v = new DataView(b.buffer);
  v.setUint8(0, MSG_POINTER_REL);
  v.setUint8(1, buttons & 0xff);
  v.setInt16(2, clamp(dx, -32768, 32767));
  v.setInt16(4, clamp(dy, -32768, 32767));
  return b;
}

export function wheel(buttons: number, dx: number, dy: number): Uint8Array {
  const b = new Uint8Array(4);
  const v = new DataView(b.buffer);
  v.setUint8(0, MSG_WHEEL);
  v.setUint8(1, buttons & 0xff);
  v.setInt8(2, clamp(dx, -128, 127));
  v.setInt8(3, clamp(dy, -128, 127));
  return b;
}

function key(type: number, code: string): Uint8Array {
  if (code.length === 0 || code.length > MAX_CODE || !/^[\x20-\x7e]+$/.test(code)) {
    throw new RangeError(`key code ${JSON.stringify(code)} is not 1..${MAX_CODE} printable ASCII characters`);
  }
  const b = new Uint8Array(2 + code.length);
  b[0] = type;
  b[1] = code.length;
  for (let i = 0; i < code.length; i++) b[2 + i] = code.charCodeAt(i);
  return b;
}

export function keyDown(code: string): Uint8Array {
  return key(MSG_KEY_DOWN, code);
}

export function keyUp(code: string): Uint8Array {
  return key(MSG_KEY_UP, code);
}

export function releaseAll(): Uint8Array {
  return Uint8Array.of(MSG_RELEASE_ALL);
}

/**
 * WheelAccumulator turns DOM wheel deltas (pixels or lines) into whole notches, keeping the
 * remainder so slow trackpad scrolling still produces notches.
 */
export class WheelAccumulator {
  private x = 0;
  private y = 0;
  /** add returns the notches to send now ([dx, dy]), possibly [0, 0]. */
  add(deltaX: number, deltaY: number, deltaMode: number): [number, number] {
    const unit = deltaMode === 1 ? 1 : deltaMode === 2 ? 0.33 : 100; // lines, pages, pixels per notch
    this.x += deltaX / unit;
    this.y += deltaY / unit;
    const nx = Math.trunc(this.x);
    const ny = Math.trunc(this.y);
    this.x -= nx;
    this.y -= ny;
    return [nx, ny];
  }
}

/** Status is the agent's JSON message on the input channel. */
export interface InputStatus {
  type: "status";
  role: "controller" | "spectator";
  controller: { id?: string; name?: string } | null;
  width: number;
  height: number;
  relative: boolean;
}

/** parseStatus reads a text message from the agent; it returns undefined for anything else. */
export function parseStatus(text: string): InputStatus | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== "object" || m === null || (m as { type?: unknown }).type !== "status") return undefined;
  const o = m as Record<string, unknown>;
  return {
    type: "status",
    role: o.role === "controller" ? "controller" : "spectator",
    controller:
      o.controller && typeof o.controller === "object" ? (o.controller as InputStatus["controller"]) : null,
    width: typeof o.width === "number" ? o.width : 0,
    height: typeof o.height === "number" ? o.height : 0,
    relative: o.relative === true,
  };
}
