import { Suspense, lazy, useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { EventsClient, type EventsStatus } from "./api/events";
import { Focus } from "./components/Focus";
import { Tile } from "./components/Tile";
import { Icon } from "./components/Icon";
import { useNow } from "./media/hooks";
import { createRuntime, RuntimeContext } from "./runtime";
import { PAGE_SIZE, clampPage, ordered, page, pageCount, reduce, type Instances } from "./state/instances";

const VRView = lazy(() => import("./vr/VRView"));

const empty: Instances = new Map();
const ready = new Set(["INSTANCE_STATE_ATTACHED", "INSTANCE_STATE_HEALTHY", "INSTANCE_STATE_DEGRADED"]);

export function App() {
  const rt = useMemo(createRuntime, []);
  const [instances, dispatch] = useReducer(reduce, empty);
  const [events, setEvents] = useState<EventsStatus>({ phase: "connecting" });
  const [pageNo, setPage] = useState(0);
  const [focusId, setFocus] = useState<string | null>(null);
  const [vr, setVR] = useState(() => new URLSearchParams(location.search).has("vr"));
  const now = useNow(events.phase === "waiting");

  useEffect(() => {
    const c = new EventsClient(rt.base, dispatch, setEvents);
    c.start();
    return () => c.close();
  }, [rt]);

  const list = useMemo(() => ordered(instances), [instances]);
  const pages = pageCount(list.length);
  const cur = clampPage(pageNo, list.length);
  const shown = useMemo(() => page(list, cur), [list, cur]);
  const focused = focusId ? instances.get(focusId) : undefined;

  // An agent coming back (its instance turns attached/healthy again): skip the rest of its session's back-off.
  const lastStates = useRef(new Map<string, boolean>());
  useEffect(() => {
    const seen = lastStates.current;
    for (const inst of list) {
      const up = ready.has(inst.state ?? "");
      if (up && seen.get(inst.id) === false) rt.pool.get(inst.id)?.kick();
      seen.set(inst.id, up);
    }
  }, [rt, list]);

  // Browsers start audio only after a gesture: the first click or key anywhere.
  useEffect(() => {
    const resume = () => rt.audio.resume();
    window.addEventListener("pointerdown", resume, { once: true });
    window.addEventListener("keydown", resume, { once: true });
    return () => {
      window.removeEventListener("pointerdown", resume);
      window.removeEventListener("keydown", resume);
    };
  }, [rt]);

  // Shortcuts: Ctrl+1..9 (or Alt+1..9) focus a tile of this page, Esc back to the grid, PageUp/PageDown page.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (rt.capturing) return;
      const d = /^Digit([1-9])$/.exec(e.code);
      if (d && (e.ctrlKey || e.altKey)) {
        const inst = shown[Number(d[1]) - 1];
        if (inst) {
          e.preventDefault();
          rt.audio.resume();
          setFocus(inst.id);
        }
      } else if (e.code === "Escape" && focusId) {
        setFocus(null);
      } else if (e.code === "PageDown") {
        setPage((p) => Math.min(p + 1, pages - 1));
      } else if (e.code === "PageUp") {
        setPage((p) => Math.max(p - 1, 0));
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [rt, shown, focusId, pages]);

  // A focused instance that vanished closes its view.
  useEffect(() => {
    if (focusId && !instances.has(focusId)) setFocus(null);
  }, [focusId, instances]);

  useEffect(() => () => rt.pool.closeAll(), [rt]);

  // Stable, so memoised tiles re-render only when their own instance changes.
  const open = useCallback(
    (id: string) => {
      rt.audio.resume();
      setFocus(id);
    },
    [rt],
  );

  const eventsText =
    events.phase === "live"
      ? "live"
      : events.phase === "waiting"
        ? `broker unreachable, reconnecting in ${Math.max(0, Math.ceil(((events.retryAt ?? now) - now) / 1000))} s`
        : "connecting to broker…";

  return (
    <RuntimeContext.Provider value={rt}>
      <div className="flex h-screen flex-col">
        <header className="flex items-center gap-4 border-b border-white/10 px-4 py-2">
          <h1 className="flex items-center gap-2 text-lg font-bold tracking-tight"><Icon name="train" className="h-5 w-5 text-emerald-400" /> Loco Cluster</h1>
          <span data-testid="events" data-phase={events.phase} className={`text-sm ${events.phase === "live" ? "text-emerald-400" : "text-amber-400"}`}>
            {eventsText}
          </span>
          <span className="text-sm text-neutral-400">{list.length} instances</span>
          {pages > 1 && (
            <span className="flex items-center gap-2 text-sm" data-testid="pager">
              <button type="button" className="rounded bg-white/10 px-2 disabled:opacity-30" disabled={cur === 0} onClick={() => setPage(cur - 1)}>
                ‹
              </button>
              page {cur + 1} / {pages}
              <button type="button" className="rounded bg-white/10 px-2 disabled:opacity-30" disabled={cur >= pages - 1} onClick={() => setPage(cur + 1)}>
                ›
              </button>
            </span>
          )}
          <span className="ml-auto text-sm text-neutral-400">you are {rt.me.name}</span>
          <button type="button" data-testid="vr-toggle" className="rounded bg-indigo-600 px-3 py-1 text-sm" onClick={() => setVR((v) => !v)}>
            {vr ? "Grid" : "VR"}
          </button>
        </header>
        {vr ? (
          <Suspense fallback={<div className="p-8">loading VR…</div>}>
            <VRView instances={shown} onExit={() => setVR(false)} />
          </Suspense>
        ) : (
          <main className="min-h-0 flex-1 overflow-auto p-3">
            {list.length === 0 ? (
              <p className="p-8 text-neutral-400">No instances yet: waiting for the broker to discover some.</p>
            ) : (
              <div data-testid="grid" className="mx-auto grid max-w-[min(100%,calc((100vh-4rem)*4/3))] grid-cols-3 gap-3">
                {shown.map((inst, i) => (
                  <Tile key={inst.id} inst={inst} slot={i + 1} onOpen={open} />
                ))}
                {Array.from({ length: Math.max(0, Math.min(PAGE_SIZE, list.length) - shown.length) }, (_, i) => (
                  <div key={`empty-${i}`} className="aspect-[4/3] rounded-lg border border-dashed border-white/10" />
                ))}
              </div>
            )}
          </main>
        )}
        {focused && !vr && <Focus inst={focused} onClose={() => setFocus(null)} />}
      </div>
    </RuntimeContext.Provider>
  );
}
