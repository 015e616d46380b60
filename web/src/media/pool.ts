// Pool keeps one Session per instance for the whole page: the grid tile, the focus view and the
// VR wall share it (one WebRTC connection per instance per browser). A session nobody uses is
// closed after a short grace period, so paging back and forth does not churn connections.
import { Session, type SessionDeps } from "./session";
import type { Me } from "./viewer";
import type { Role } from "../whep/client";

interface Entry {
  session: Session;
  refs: number;
  closeTimer?: ReturnType<typeof setTimeout>;
}

export class Pool {
  private entries = new Map<string, Entry>();
  private listeners = new Set<() => void>();
  /** Instances whose control this browser asked for: reconnects request the controller role. */
  private wantControl = new Set<string>();

  constructor(
    private readonly me: Me,
    private readonly deps: SessionDeps,
    private readonly graceMs = 3000,
  ) {}

  acquire(id: string, maxWidth?: number): Session {
    let e = this.entries.get(id);
    if (!e) {
      const role: Role = this.wantControl.has(id) ? "controller" : "spectator";
      const session = new Session(id, { role, viewer: this.me.id, name: this.me.name, maxWidth }, this.deps);
      e = { session, refs: 0 };
      this.entries.set(id, e);
      session.start();
      this.emit();
    }
    if (e.closeTimer) {
      clearTimeout(e.closeTimer);
      e.closeTimer = undefined;
    }
    e.refs++;
    return e.session;
  }

  release(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.refs--;
    if (e.refs > 0) return;
    e.closeTimer = setTimeout(() => {
      if (e.refs > 0) return;
      e.session.close();
      this.entries.delete(id);
      this.emit();
    }, this.graceMs);
  }

  get(id: string): Session | undefined {
    return this.entries.get(id)?.session;
  }

  sessions(): Session[] {
    return [...this.entries.values()].map((e) => e.session);
  }

  setWantControl(id: string, want: boolean): void {
    if (want) this.wantControl.add(id);
    else this.wantControl.delete(id);
    this.get(id)?.setParams({ role: want ? "controller" : "spectator" }, false);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of [...this.listeners]) fn();
  }

  closeAll(): void {
    for (const e of this.entries.values()) {
      if (e.closeTimer) clearTimeout(e.closeTimer);
      e.session.close();
    }
    this.entries.clear();
    this.emit();
  }
}
