// InputCapture turns the page's mouse and keyboard into input protocol messages for the focused
// instance while the user has taken control. Relative mode locks the pointer (the default for
// Windows 98 guests); absolute mode maps the pointer onto the framebuffer. Esc twice quickly, or
// losing pointer lock / page focus, ends the capture and releases every key and button in the guest.
import { WheelAccumulator, buttonMask, keyDown, keyUp, pointerAbs, pointerRel, releaseAll, wheel } from "./encoder";

export type PointerMode = "relative" | "absolute";

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * toFramebuffer maps a client point over a <video> with object-fit: contain onto framebuffer
 * pixels, or returns undefined when the point is in the letterbox.
 */
export function toFramebuffer(
  cx: number,
  cy: number,
  rect: Rect,
  videoW: number,
  videoH: number,
  fbW: number,
  fbH: number,
): [number, number] | undefined {
  if (videoW <= 0 || videoH <= 0 || rect.width <= 0 || rect.height <= 0) return undefined;
  const scale = Math.min(rect.width / videoW, rect.height / videoH);
  const w = videoW * scale;
  const h = videoH * scale;
  const x0 = rect.left + (rect.width - w) / 2;
  const y0 = rect.top + (rect.height - h) / 2;
  const u = (cx - x0) / w;
  const v = (cy - y0) / h;
  if (u < 0 || u > 1 || v < 0 || v > 1) return undefined;
  const W = fbW || videoW;
  const H = fbH || videoH;
  return [Math.min(W - 1, Math.floor(u * W)), Math.min(H - 1, Math.floor(v * H))];
}

/** Double-press window for the Escape-safe way out. */
export const ESC_ESC_MS = 600;

export interface CaptureOptions {
  mode: PointerMode;
  /** The framebuffer size from the agent's status (0 when unknown). */
  framebuffer: () => { width: number; height: number };
  send: (msg: Uint8Array) => void;
  /** Called once when the capture ends for any reason. */
  onEnd: () => void;
}

export class InputCapture {
  private buttons = 0;
  private lastEsc = 0;
  private wheelAcc = new WheelAccumulator();
  private ended = false;
  private held = new Set<string>();
  private readonly abort = new AbortController();

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly opts: CaptureOptions,
  ) {}

  /** locked says whether the browser granted pointer lock. */
  get locked(): boolean {
    return document.pointerLockElement === this.video;
  }

  start(): void {
    const sig = { signal: this.abort.signal, capture: true };
    const doc = document;
    doc.addEventListener("mousemove", (e) => this.onMove(e), sig);
    doc.addEventListener("mousedown", (e) => this.onButton(e), sig);
    doc.addEventListener("mouseup", (e) => this.onButton(e), sig);
    doc.addEventListener("wheel", (e) => this.onWheel(e), { ...sig, passive: false });
    doc.addEventListener("contextmenu", (e) => e.preventDefault(), sig);
    window.addEventListener("keydown", (e) => this.onKey(e, true), sig);
    window.addEventListener("keyup", (e) => this.onKey(e, false), sig);
    window.addEventListener("blur", () => this.stop(), sig);
    doc.addEventListener("visibilitychange", () => doc.hidden && this.stop(), sig);
    if (this.opts.mode === "relative") {
      let had = false;
      doc.addEventListener(
        "pointerlockchange",
        () => {
          if (doc.pointerLockElement === this.video) had = true;
          else if (had) this.stop(); // Esc or the browser took the lock away
        },
        sig,
      );
      try {
        const p = this.video.requestPointerLock({ unadjustedMovement: true }) as unknown as Promise<void> | undefined;
        p?.catch(() => {
          // unadjustedMovement unsupported (or no lock at all): try plain lock; movement still flows unlocked
          (this.video.requestPointerLock() as unknown as Promise<void> | undefined)?.catch(() => {});
        });
      } catch {
        // relative motion still works from movementX/Y over the video
      }
    }
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    this.opts.send(releaseAll());
    this.held.clear();
    this.buttons = 0;
    if (document.pointerLockElement === this.video) document.exitPointerLock();
    this.opts.onEnd();
  }

  private inside(e: MouseEvent): boolean {
    if (this.locked) return true;
    const r = this.video.getBoundingClientRect();
    return e.clientX >= r.left && e.clientX < r.right && e.clientY >= r.top && e.clientY < r.bottom;
  }

  private onMove(e: MouseEvent): void {
    if (!this.inside(e)) return;
    this.buttons = buttonMask(e.buttons);
    if (this.opts.mode === "relative") {
      if (e.movementX || e.movementY) this.opts.send(pointerRel(this.buttons, e.movementX, e.movementY));
    } else {
      this.sendAbs(e);
    }
  }

  private sendAbs(e: MouseEvent): void {
    const fb = this.opts.framebuffer();
    const p = toFramebuffer(
      e.clientX,
      e.clientY,
      this.video.getBoundingClientRect(),
      this.video.videoWidth,
      this.video.videoHeight,
      fb.width,
      fb.height,
    );
    if (p) this.opts.send(pointerAbs(this.buttons, p[0], p[1]));
  }

  private onButton(e: MouseEvent): void {
    if (!this.inside(e)) return;
    e.preventDefault();
    this.buttons = buttonMask(e.buttons);
    if (this.opts.mode === "relative") this.opts.send(pointerRel(this.buttons, 0, 0));
    else this.sendAbs(e);
  }

  private onWheel(e: WheelEvent): void {
    if (!this.inside(e)) return;
    e.preventDefault();
    const [dx, dy] = this.wheelAcc.add(e.deltaX, e.deltaY, e.deltaMode);
    if (dx || dy) this.opts.send(wheel(this.buttons, dx, dy));
  }

  private onKey(e: KeyboardEvent, down: boolean): void {
    if (!e.code) return;
    e.preventDefault();
    e.stopPropagation();
    if (down && e.code === "Escape") {
      const now = performance.now();
      if (now - this.lastEsc < ESC_ESC_MS) {
        this.stop();
        return;
      }
      this.lastEsc = now;
    }
    if (e.code.length > 32) return;
    if (down) {
      this.held.add(e.code);
      this.opts.send(keyDown(e.code));
    } else if (this.held.delete(e.code)) {
      this.opts.send(keyUp(e.code));
    }
  }
}
