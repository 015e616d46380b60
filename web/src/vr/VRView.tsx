// VRView shows the instances as live video screens on a curved wall (A-Frame). Select a screen by
// gaze (hold the ring on it), a controller ray's trigger, or a mouse click; the selected screen
// takes the pointer (ray position on the screen, trigger/mouse buttons) and the keyboard through
// the same input channel as the focus view. Without a headset it is a flat 3D view (drag to look).
import "aframe";
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { Instance } from "../api/types";
import { BUTTON_LEFT, keyDown, keyUp, pointerAbs, releaseAll } from "../input/encoder";
import type { Session } from "../media/session";
import { requestControl, useRuntime } from "../runtime";
import { ESC_ESC_MS } from "../input/capture";
import { wallLayout } from "./layout";

interface Props {
  instances: Instance[];
  onExit: () => void;
}

interface Screen {
  id: string;
  session: Session;
  video: HTMLVideoElement;
  plane: HTMLElement;
  frame: HTMLElement;
  unsub: () => void;
}

interface Intersection {
  uv?: { x: number; y: number };
}
interface RaycasterComponent {
  getIntersection(el: Element): Intersection | null;
}
type AEntity = HTMLElement & { components?: Record<string, unknown> };

export default function VRView({ instances, onExit }: Props) {
  const rt = useRuntime();
  const host = useRef<HTMLDivElement>(null);
  const scene = useRef<AEntity | null>(null);
  const screens = useRef(new Map<string, Screen>());
  const videos = useRef<HTMLDivElement>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [keys, setKeys] = useState(false);
  const selectedRef = useRef<string | null>(null);
  selectedRef.current = selected;

  // The scene: built once, outside React's reconciliation.
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    el.innerHTML = `
      <a-scene embedded renderer="antialias: false; colorManagement: true" vr-mode-ui="enabled: true"
               cursor="rayOrigin: mouse" raycaster="objects: .screen" loading-screen="enabled: false"
               style="width:100%;height:100%">
        <a-sky color="#0b1020"></a-sky>
        <a-plane rotation="-90 0 0" position="0 -0.6 0" width="30" height="30" color="#151a2e"></a-plane>
        <a-entity id="loco-camera" camera look-controls="reverseMouseDrag: false" position="0 1.6 0">
          <a-entity cursor="fuse: true; fuseTimeout: 1500" raycaster="objects: .screen; far: 30"
                    position="0 0 -1" geometry="primitive: ring; radiusInner: 0.008; radiusOuter: 0.013"
                    material="color: #ffffff; shader: flat"></a-entity>
        </a-entity>
        <a-entity laser-controls="hand: right" raycaster="objects: .screen; far: 30"></a-entity>
        <a-entity laser-controls="hand: left" raycaster="objects: .screen; far: 30"></a-entity>
        <a-entity id="loco-wall"></a-entity>
      </a-scene>`;
    scene.current = el.querySelector("a-scene");
    const current = screens.current;
    return () => {
      for (const s of current.values()) {
        s.unsub();
        rt.pool.release(s.id);
      }
      current.clear();
      el.innerHTML = "";
      scene.current = null;
    };
  }, [rt]);

  // Screens follow the instance list.
  useEffect(() => {
    const wall = host.current?.querySelector("#loco-wall");
    const vids = videos.current;
    if (!wall || !vids) return;
    const want = new Set(instances.map((i) => i.id));
    for (const [id, s] of screens.current) {
      if (want.has(id)) continue;
      s.unsub();
      s.plane.remove();
      s.frame.remove();
      s.video.remove();
      rt.pool.release(id);
      screens.current.delete(id);
    }
    const layout = wallLayout(instances.length);
    instances.forEach((inst, i) => {
      let s = screens.current.get(inst.id);
      if (!s) {
        const session = rt.pool.acquire(inst.id);
        const video = document.createElement("video");
        video.id = `vr-video-${i}-${inst.id.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
        video.muted = true;
        video.autoplay = true;
        video.playsInline = true;
        video.crossOrigin = "anonymous";
        vids.appendChild(video);
        const frame = document.createElement("a-plane");
        const plane = document.createElement("a-plane");
        plane.classList.add("screen");
        plane.dataset.instance = inst.id;
        plane.setAttribute("material", `shader: flat; src: #${video.id}`);
        plane.addEventListener("click", () => setSelected(inst.id));
        wall.appendChild(frame);
        wall.appendChild(plane);
        const bind = () => {
          if (video.srcObject !== session.stream) {
            video.srcObject = session.stream;
            if (session.stream) video.play().catch(() => {});
          }
          rt.audio.attach(inst.id, session.stream);
        };
        bind();
        s = { id: inst.id, session, video, plane, frame, unsub: session.subscribe(bind) };
        screens.current.set(inst.id, s);
      }
      const p = layout[i];
      const pos = `${p.x.toFixed(3)} ${p.y.toFixed(3)} ${p.z.toFixed(3)}`;
      s.plane.setAttribute("position", pos);
      s.plane.setAttribute("rotation", `0 ${p.yaw.toFixed(2)} 0`);
      s.plane.setAttribute("width", String(p.width));
      s.plane.setAttribute("height", String(p.height));
      s.frame.setAttribute("rotation", `0 ${p.yaw.toFixed(2)} 0`);
      const back = 0.01;
      const rad = (p.yaw * Math.PI) / 180;
      s.frame.setAttribute("position", `${(p.x - Math.sin(rad) * back).toFixed(3)} ${p.y.toFixed(3)} ${(p.z - Math.cos(rad) * back).toFixed(3)}`);
      s.frame.setAttribute("width", String(p.width + 0.08));
      s.frame.setAttribute("height", String(p.height + 0.08));
    });
  }, [rt, instances]);

  // Highlight and focus audio follow the selection.
  useEffect(() => {
    for (const s of screens.current.values()) {
      s.frame.setAttribute("material", `shader: flat; color: ${s.id === selected ? "#34d399" : "#1f2937"}`);
    }
    rt.audio.setFocus(selected);
    return () => rt.audio.setFocus(null);
  }, [rt, selected, instances]);

  // Pointer: where the mouse ray or a controller ray meets the selected screen, plus buttons.
  useEffect(() => {
    let raf = 0;
    let buttons = 0;
    let last = "";
    const rays = () => {
      const sc = scene.current;
      if (!sc) return [];
      const out: RaycasterComponent[] = [];
      const mouse = sc.components?.raycaster as RaycasterComponent | undefined;
      if (mouse) out.push(mouse);
      sc.querySelectorAll("[laser-controls]").forEach((e) => {
        const r = (e as AEntity).components?.raycaster as RaycasterComponent | undefined;
        if (r) out.push(r);
      });
      return out;
    };
    const sendAt = (force: boolean) => {
      const id = selectedRef.current;
      const s = id ? screens.current.get(id) : undefined;
      if (!s) return;
      for (const r of rays()) {
        const hit = r.getIntersection(s.plane);
        if (!hit?.uv) continue;
        const st = s.session.status.input;
        const w = st?.width || s.video.videoWidth;
        const h = st?.height || s.video.videoHeight;
        if (!w || !h) return;
        const x = Math.min(w - 1, Math.floor(hit.uv.x * w));
        const y = Math.min(h - 1, Math.floor((1 - hit.uv.y) * h));
        const key = `${x},${y},${buttons}`;
        if (force || key !== last) {
          last = key;
          s.session.send(pointerAbs(buttons, x, y));
        }
        return;
      }
    };
    const loop = () => {
      sendAt(false);
      raf = requestAnimationFrame(loop);
    };
    raf = requestAnimationFrame(loop);
    const down = () => {
      buttons |= BUTTON_LEFT;
      sendAt(true);
    };
    const up = () => {
      buttons &= ~BUTTON_LEFT;
      sendAt(true);
    };
    const sc = scene.current;
    sc?.addEventListener("triggerdown", down);
    sc?.addEventListener("triggerup", up);
    const canvasDown = (e: MouseEvent) => e.button === 0 && down();
    const canvasUp = (e: MouseEvent) => e.button === 0 && up();
    host.current?.addEventListener("mousedown", canvasDown);
    window.addEventListener("mouseup", canvasUp);
    const h = host.current;
    return () => {
      cancelAnimationFrame(raf);
      sc?.removeEventListener("triggerdown", down);
      sc?.removeEventListener("triggerup", up);
      h?.removeEventListener("mousedown", canvasDown);
      window.removeEventListener("mouseup", canvasUp);
    };
  }, []);

  // Keyboard to the selected screen while "keys" is on; Esc twice stops it.
  useEffect(() => {
    if (!keys || !selected) return;
    const s = screens.current.get(selected);
    if (!s) return;
    rt.capturing = true;
    let lastEsc = 0;
    const onKey = (e: KeyboardEvent, isDown: boolean) => {
      if (!e.code || e.code.length > 32) return;
      e.preventDefault();
      e.stopPropagation();
      if (isDown && e.code === "Escape") {
        const now = performance.now();
        if (now - lastEsc < ESC_ESC_MS) {
          setKeys(false);
          return;
        }
        lastEsc = now;
      }
      s.session.send(isDown ? keyDown(e.code) : keyUp(e.code));
    };
    const kd = (e: KeyboardEvent) => onKey(e, true);
    const ku = (e: KeyboardEvent) => onKey(e, false);
    window.addEventListener("keydown", kd, true);
    window.addEventListener("keyup", ku, true);
    return () => {
      window.removeEventListener("keydown", kd, true);
      window.removeEventListener("keyup", ku, true);
      s.session.send(releaseAll());
      rt.capturing = false;
    };
  }, [rt, keys, selected]);

  const sel = selected ? screens.current.get(selected) : undefined;
  const status = useSyncExternalStore(
    (fn) => (sel ? sel.session.subscribe(fn) : () => {}),
    () => sel?.session.status,
  );
  const mine = status?.role === "controller";

  return (
    <div className="relative min-h-0 flex-1" data-testid="vr">
      <div ref={host} className="absolute inset-0" />
      <div ref={videos} aria-hidden className="pointer-events-none fixed left-0 top-0 h-0.5 w-0.5 overflow-hidden opacity-0" />
      <div className="absolute left-3 top-3 max-w-md rounded bg-black/70 p-3 text-sm" data-testid="vr-hud">
        {selected ? (
          <div className="flex flex-col gap-2">
            <span>
              Selected <b>{selected}</b> ({mine ? "you have control" : "spectating"})
            </span>
            <span className="flex gap-2">
              {!mine && (
                <button
                  type="button"
                  data-testid="vr-take"
                  className="rounded bg-emerald-600 px-2 py-1"
                  onClick={async () => {
                    rt.pool.setWantControl(selected, true);
                    if (!(await requestControl(rt.base, selected, rt.me.id))) sel?.session.setParams({ role: "controller" }, true);
                  }}
                >
                  Take control
                </button>
              )}
              <button type="button" data-testid="vr-keys" className="rounded bg-white/15 px-2 py-1" onClick={() => setKeys((k) => !k)}>
                {keys ? "Keyboard: on (Esc twice: off)" : "Send keyboard"}
              </button>
            </span>
          </div>
        ) : (
          <span>Look at a screen and hold the ring on it, point a controller and pull the trigger, or click it.</span>
        )}
        <button type="button" className="mt-2 block text-xs text-neutral-400 underline" onClick={onExit}>
          back to the grid
        </button>
      </div>
    </div>
  );
}
