// React bindings for sessions: components re-render on session status changes (rare), never on
// frames. Video elements get their MediaStream through refs.
import { type RefObject, useEffect, useState, useSyncExternalStore } from "react";
import type { Session, SessionStatus } from "./session";
import { useRuntime } from "../runtime";

/** useSession holds the pool's session for an instance while the component is mounted. */
export function useSession(id: string, maxWidth?: number): Session | undefined {
  const rt = useRuntime();
  const [session, setSession] = useState<Session>();
  useEffect(() => {
    const s = rt.pool.acquire(id, maxWidth);
    setSession(s);
    return () => rt.pool.release(id);
    // maxWidth only matters for a new session; changing it later does not reconnect.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rt, id]);
  return session;
}

const idle: SessionStatus = { phase: "connecting", attempts: 0, role: "spectator" };
const noop = () => () => {};

export function useSessionStatus(session: Session | undefined): SessionStatus {
  return useSyncExternalStore(
    session ? (fn) => session.subscribe(fn) : noop,
    () => session?.status ?? idle,
  );
}

/** useBindVideo keeps a <video>'s srcObject on the session's current stream, and its audio routed. */
export function useBindVideo(session: Session | undefined, video: RefObject<HTMLVideoElement | null>): void {
  const rt = useRuntime();
  useEffect(() => {
    if (!session) return;
    const bind = () => {
      const v = video.current;
      const stream = session.stream;
      if (v && v.srcObject !== stream) {
        v.srcObject = stream;
        if (stream) v.play().catch(() => {});
      }
      if (session.status.phase === "closed") rt.audio.detach(session.instanceId);
      else rt.audio.attach(session.instanceId, stream);
    };
    bind();
    return session.subscribe(bind);
  }, [rt, session, video]);
}

/** useNow re-renders every intervalMs while active (for "reconnecting in 2 s"). */
export function useNow(active: boolean, intervalMs = 500): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [active, intervalMs]);
  return now;
}

/** describe is the one-line text a view shows for a session's state. */
export function describe(s: SessionStatus, now: number): string {
  switch (s.phase) {
    case "playing":
      return "live";
    case "connecting":
      return s.attempts > 0 ? `reconnecting (attempt ${s.attempts + 1})…` : "connecting…";
    case "waiting": {
      const secs = Math.max(0, Math.ceil(((s.retryAt ?? now) - now) / 1000));
      return `reconnecting in ${secs} s`;
    }
    case "closed":
      return "closed";
  }
}

/**
 * useFrameCounter writes the decoded frame rate into a text element once a second, from
 * requestVideoFrameCallback, without React.
 */
export function useFrameCounter(video: RefObject<HTMLVideoElement | null>, out: RefObject<HTMLElement | null>): void {
  useEffect(() => {
    const v = video.current;
    if (!v || !("requestVideoFrameCallback" in v)) return;
    let handle = 0;
    let frames = 0;
    let since = performance.now();
    let stopped = false;
    const cb = () => {
      if (stopped) return;
      frames++;
      const now = performance.now();
      if (now - since >= 1000) {
        if (out.current) out.current.textContent = `${Math.round((frames * 1000) / (now - since))} fps`;
        v.dataset.fps = String(Math.round((frames * 1000) / (now - since)));
        frames = 0;
        since = now;
      }
      handle = v.requestVideoFrameCallback(cb);
    };
    handle = v.requestVideoFrameCallback(cb);
    return () => {
      stopped = true;
      v.cancelVideoFrameCallback(handle);
    };
  }, [video, out]);
}
