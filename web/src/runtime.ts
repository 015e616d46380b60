// The page's long-lived objects (viewer identity, WebRTC session pool, audio engine), created once
// and shared with components through a React context. Nothing here re-renders per frame.
import { createContext, useContext } from "react";
import { AudioEngine } from "./audio/engine";
import { Pool } from "./media/pool";
import { loadMe, type Me } from "./media/viewer";

export interface Runtime {
  base: string;
  me: Me;
  pool: Pool;
  audio: AudioEngine;
  /** True while the focus view captures keyboard and mouse: page shortcuts stand down. */
  capturing: boolean;
}

export function createRuntime(): Runtime {
  const base = location.origin;
  const me = loadMe();
  const pool = new Pool(me, {
    base,
    fetch: (input, init) => fetch(input, init),
    createPeerConnection: () => new RTCPeerConnection({ bundlePolicy: "max-bundle" }),
  });
  const audio = new AudioEngine();
  // A session closed by the pool (its tile went away: paging, an instance gone) takes its audio chain with it; the
  // components that routed it are unmounted by then and cannot.
  pool.subscribe(() => audio.retainOnly(new Set(pool.sessions().map((s) => s.instanceId))));
  const rt: Runtime = { base, me, pool, audio, capturing: false };
  // For end-to-end tests and debugging in the console.
  (window as unknown as { __loco?: Runtime }).__loco = rt;
  return rt;
}

export const RuntimeContext = createContext<Runtime | null>(null);

export function useRuntime(): Runtime {
  const rt = useContext(RuntimeContext);
  if (!rt) throw new Error("useRuntime outside RuntimeContext");
  return rt;
}

/** requestControl asks the broker to give control of an instance to viewerId ("" releases). */
export async function requestControl(base: string, id: string, viewerId: string): Promise<boolean> {
  try {
    const res = await fetch(new URL(`/api/instances/${encodeURIComponent(id)}/control`, base), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ viewerId }),
    });
    return res.ok;
  } catch {
    return false;
  }
}
