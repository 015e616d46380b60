import { useCallback, useEffect, useRef, useState } from "react";
import { badgeOf, type Instance } from "../api/types";
import { InputCapture, type PointerMode } from "../input/capture";
import { describe, useBindVideo, useNow, useSession, useSessionStatus } from "../media/hooks";
import { requestControl, useRuntime } from "../runtime";
import { AudioControls, Meter } from "./AudioControls";
import { Badge } from "./Badge";

interface Props {
  inst: Instance;
  onClose: () => void;
}

/** Focus shows one instance large, with control: pointer lock, keyboard capture, fullscreen. */
export function Focus({ inst, onClose }: Props) {
  const rt = useRuntime();
  const session = useSession(inst.id);
  const st = useSessionStatus(session);
  const video = useRef<HTMLVideoElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const capture = useRef<InputCapture | null>(null);
  const [capturing, setCapturing] = useState(false);
  const [mode, setMode] = useState<PointerMode>("relative");
  const [note, setNote] = useState("");
  useBindVideo(session, video);
  const now = useNow(st.phase === "waiting");

  // Only the focused instance is heard.
  useEffect(() => {
    rt.audio.setFocus(inst.id);
    return () => rt.audio.setFocus(null);
  }, [rt, inst.id]);

  // A tile's session may carry a smaller layer (maxWidth); when the picture arriving is narrower than the
  // guest's screen, reconnect for the full one. An agent that ignores maxWidth costs no reconnect.
  const guestWidth = st.input?.width ?? inst.health?.screenMode?.width ?? 0;
  useEffect(() => {
    const v = video.current;
    if (!session || !v) return;
    const check = () => {
      if (session.currentParams.maxWidth && v.videoWidth > 0 && guestWidth > v.videoWidth) {
        session.setParams({ maxWidth: undefined }, true);
      }
    };
    check();
    v.addEventListener("resize", check);
    return () => v.removeEventListener("resize", check);
  }, [session, guestWidth]);

  const controller = st.input?.controller ?? inst.controller ?? null;
  const mine = st.role === "controller" || controller?.id === rt.me.id;

  const stopCapture = useCallback(() => {
    capture.current?.stop();
    capture.current = null;
  }, []);

  const startCapture = useCallback(() => {
    const v = video.current;
    if (!session || !v || capture.current) return;
    rt.audio.resume();
    const c = new InputCapture(v, {
      mode,
      framebuffer: () => ({ width: session.status.input?.width ?? 0, height: session.status.input?.height ?? 0 }),
      send: (m) => session.send(m),
      onEnd: () => {
        capture.current = null;
        rt.capturing = false;
        setCapturing(false);
      },
    });
    capture.current = c;
    rt.capturing = true;
    setCapturing(true);
    c.start();
  }, [rt, session, mode]);

  useEffect(() => stopCapture, [stopCapture]);
  // Losing control ends the capture.
  useEffect(() => {
    if (!mine) stopCapture();
  }, [mine, stopCapture]);

  const take = async () => {
    rt.audio.resume();
    rt.pool.setWantControl(inst.id, true);
    const ok = await requestControl(rt.base, inst.id, rt.me.id);
    if (!ok) {
      // No control endpoint (or refused): reconnect asking for the controller role instead.
      session?.setParams({ role: "controller" }, true);
      setNote("control requested by reconnecting as controller");
    } else setNote("");
  };
  const release = async () => {
    stopCapture();
    rt.pool.setWantControl(inst.id, false);
    const ok = await requestControl(rt.base, inst.id, "");
    if (!ok) session?.setParams({ role: "spectator" }, true);
  };
  const fullscreen = async () => {
    const el = box.current;
    if (!el) return;
    if (document.fullscreenElement) {
      await document.exitFullscreen().catch(() => {});
      return;
    }
    await el.requestFullscreen().catch(() => {});
    // Keyboard lock lets Esc, Alt+Tab and friends reach the guest; hold Esc to leave.
    const kb = (navigator as Navigator & { keyboard?: { lock?: () => Promise<void> } }).keyboard;
    await kb?.lock?.().catch(() => {});
  };

  const who = controller?.id ? (controller.id === rt.me.id ? "you" : controller.name || controller.id) : "nobody";

  return (
    <div
      ref={box}
      data-testid="focus"
      data-instance={inst.id}
      data-role={st.role}
      data-capturing={capturing ? "1" : "0"}
      className="fixed inset-0 z-40 flex flex-col bg-neutral-950/95"
    >
      <div className="flex flex-wrap items-center gap-3 border-b border-white/10 px-4 py-2 text-sm">
        <button type="button" className="rounded bg-white/10 px-2 py-1 hover:bg-white/20" onClick={onClose} data-testid="close-focus">
          ← Grid
        </button>
        <span className="text-lg font-semibold">{inst.id}</span>
        <Badge kind={badgeOf(inst)} title={inst.reason} />
        <span className="text-neutral-400">{describe(st, now)}</span>
        <Meter id={inst.id} className="h-2 w-28 rounded" />
        <AudioControls id={inst.id} />
        <span className="ml-auto" data-testid="controller">
          control: <b>{who}</b>
        </span>
        {mine ? (
          <button type="button" data-testid="release" className="rounded bg-amber-600 px-2 py-1" onClick={release}>
            Hand over control
          </button>
        ) : (
          <button type="button" data-testid="take" className="rounded bg-emerald-600 px-2 py-1" onClick={take}>
            {controller?.id ? `Ask ${who} for control (take over)` : "Take control"}
          </button>
        )}
        <label className="flex items-center gap-1" title="Relative mouse with pointer lock suits Windows 98; absolute maps the pointer onto the screen">
          <input
            type="checkbox"
            data-testid="absolute"
            checked={mode === "absolute"}
            disabled={capturing}
            onChange={(e) => setMode(e.target.checked ? "absolute" : "relative")}
          />
          absolute mouse
        </label>
        <button type="button" className="rounded bg-white/10 px-2 py-1 hover:bg-white/20" onClick={fullscreen}>
          Fullscreen
        </button>
      </div>
      <div className="relative flex min-h-0 flex-1 items-center justify-center p-2">
        <video
          ref={video}
          muted
          autoPlay
          playsInline
          data-testid="focus-video"
          className={`max-h-full max-w-full bg-black ${mine ? "cursor-pointer" : ""} ${capturing && mode === "relative" ? "cursor-none" : ""}`}
          style={{ width: "100%", height: "100%", objectFit: "contain" }}
          onClick={() => {
            if (mine && !capturing) startCapture();
          }}
        />
        {st.phase !== "playing" && (
          <div className="pointer-events-none absolute inset-0 flex items-center justify-center text-lg">
            {describe(st, now)}
            {st.error ? ` (${st.error})` : ""}
          </div>
        )}
      </div>
      <div className="border-t border-white/10 px-4 py-2 text-sm text-neutral-300" data-testid="help">
        {capturing ? (
          <span>
            Mouse and keyboard go to <b>{inst.id}</b>. <b>Press Esc twice</b> to get them back
            {mode === "relative" ? " (one Esc releases the mouse)" : ""}; in fullscreen, <b>hold Esc</b> to leave
            fullscreen.
          </span>
        ) : mine ? (
          <span>
            You have control. <b>Click the picture</b> to capture mouse and keyboard ({mode} mouse). Esc twice releases them.
          </span>
        ) : (
          <span>
            Spectating{controller?.id ? ` — ${who} has control` : ""}. Take control to play. Esc returns to the grid.
          </span>
        )}
        {note && <span className="ml-3 text-amber-400">{note}</span>}
      </div>
    </div>
  );
}
