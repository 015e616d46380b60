import { useEffect, useRef, useSyncExternalStore } from "react";
import { useRuntime } from "../runtime";
import { Icon } from "./Icon";

/** Meter draws the instance's audio level; the engine paints it outside React. */
export function Meter({ id, className }: { id: string; className?: string }) {
  const rt = useRuntime();
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    return rt.audio.addMeter(id, ref.current);
  }, [rt, id]);
  return <canvas ref={ref} width={80} height={6} data-testid="meter" className={className ?? "h-1.5 w-20 rounded"} />;
}

/** AudioControls are a mute toggle and a volume slider for one instance. */
export function AudioControls({ id }: { id: string }) {
  const rt = useRuntime();
  const s = useSyncExternalStore(
    (fn) => rt.audio.subscribe(fn),
    () => rt.audio.getSettings(id),
  );
  const heard = useSyncExternalStore(
    (fn) => rt.audio.subscribe(fn),
    () => rt.audio.heard(id),
  );
  return (
    <span className="flex items-center gap-1" onClick={(e) => e.stopPropagation()}>
      <button
        type="button"
        data-testid="mute"
        title={heard ? "Mute" : "Unmute"}
        className="rounded px-1 text-sm hover:bg-white/20"
        onClick={() => {
          rt.audio.resume();
          rt.audio.toggleMute(id);
        }}
      >
        {heard ? <Icon name="speaker" /> : <Icon name="muted" />}
      </button>
      <input
        type="range"
        min={0}
        max={1}
        step={0.05}
        value={s.volume}
        aria-label="Volume"
        className="w-16 accent-emerald-500"
        onChange={(e) => {
          rt.audio.resume();
          rt.audio.set(id, { volume: Number(e.target.value), muted: false });
        }}
      />
    </span>
  );
}
