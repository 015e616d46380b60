// Session is one WHEP/WebRTC connection to one instance, kept alive: it reconnects with back-off
// after a refused offer, an ICE failure, a stalled stream, a pod or broker restart, and says what
// it is doing. Its MediaStream and status live outside React; views subscribe to changes.
import { Backoff } from "../state/backoff";
import { type FetchFn, type Role, type WhepParams, WhepError, hangup, offer, waitIceGathering, whepURL } from "../whep/client";
import { type InputStatus, parseStatus } from "../input/encoder";

export type Phase = "connecting" | "playing" | "waiting" | "closed";

export interface SessionStatus {
  phase: Phase;
  /** When phase is "waiting": the time (ms since epoch) of the next attempt. */
  retryAt?: number;
  /** Why the last attempt failed. */
  error?: string;
  attempts: number;
  /** Role granted by the broker (X-Loco-Role) or later by the agent's status message. */
  role: Role;
  /** Latest status message from the agent on the input channel. */
  input?: InputStatus;
}

export interface SessionDeps {
  fetch: FetchFn;
  createPeerConnection: () => RTCPeerConnection;
  base: string;
  backoff?: Backoff;
  /** How long an ICE "disconnected" may last before the session reconnects. */
  disconnectGraceMs?: number;
  /** How long from offer to "connected" before giving up. */
  connectTimeoutMs?: number;
  /** No media bytes for this long while playing means a dead stream. */
  stallMs?: number;
}

type Listener = () => void;

export class Session {
  private pc?: RTCPeerConnection;
  private dc?: RTCDataChannel;
  private location?: string;
  private gen = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private listeners = new Set<Listener>();
  private backoff: Backoff;
  private _status: SessionStatus = { phase: "connecting", attempts: 0, role: "spectator" };
  private _stream: MediaStream | null = null;
  private lastBytes = 0;
  private lastBytesAt = 0;

  constructor(
    readonly instanceId: string,
    private params: WhepParams,
    private readonly deps: SessionDeps,
  ) {
    this.backoff = deps.backoff ?? new Backoff();
  }

  get status(): SessionStatus {
    return this._status;
  }

  /** The current connection's media; a new object after every reconnect. */
  get stream(): MediaStream | null {
    return this._stream;
  }

  get currentParams(): Readonly<WhepParams> {
    return this.params;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start(): void {
    if (this._status.phase === "closed") return;
    void this.connect();
  }

  /** setParams changes the WHEP parameters; reconnect says whether to apply them now. */
  setParams(p: Partial<WhepParams>, reconnect: boolean): void {
    this.params = { ...this.params, ...p };
    if (reconnect && this._status.phase !== "closed") {
      this.backoff.reset();
      void this.connect();
    }
  }

  /** kick skips a pending back-off wait (the broker says the agent is back). */
  kick(): void {
    if (this._status.phase === "waiting") {
      this.backoff.reset();
      void this.connect();
    }
  }

  /** send puts one input message on the DataChannel; false when it is not open. */
  send(msg: Uint8Array): boolean {
    if (this.dc?.readyState !== "open") return false;
    this.dc.send(msg as Uint8Array<ArrayBuffer>);
    return true;
  }

  close(): void {
    this.gen++;
    this.teardown();
    this.update({ phase: "closed", retryAt: undefined });
    this.listeners.clear();
  }

  private update(p: Partial<SessionStatus>): void {
    this._status = { ...this._status, ...p };
    for (const fn of [...this.listeners]) fn();
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private teardown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.location) void hangup(this.deps.fetch, this.location);
    this.location = undefined;
    if (this.dc) {
      this.dc.onmessage = null;
      this.dc.onopen = null;
    }
    this.dc = undefined;
    if (this.pc) {
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = undefined;
    if (this._stream) for (const t of this._stream.getTracks()) t.stop();
    this._stream = null;
  }

  private fail(gen: number, err: unknown): void {
    if (gen !== this.gen) return;
    this.gen++;
    this.teardown();
    const retryAfter = err instanceof WhepError ? err.retryAfterMs : undefined;
    const delay = this.backoff.next(retryAfter);
    const g = this.gen;
    this.update({
      phase: "waiting",
      retryAt: Date.now() + delay,
      error: err instanceof Error ? err.message : String(err),
      attempts: this.backoff.attempts,
    });
    this.later(() => {
      if (g === this.gen) void this.connect();
    }, delay);
  }

  private async connect(): Promise<void> {
    const gen = ++this.gen;
    this.teardown();
    this.update({ phase: "connecting", retryAt: undefined, input: undefined });
    const pc = this.deps.createPeerConnection();
    this.pc = pc;
    const stream = new MediaStream();
    this._stream = stream;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const dc = pc.createDataChannel("input", { ordered: true });
    dc.binaryType = "arraybuffer";
    this.dc = dc;
    dc.onmessage = (e) => {
      if (gen !== this.gen || typeof e.data !== "string") return;
      const st = parseStatus(e.data);
      if (st) this.update({ input: st, role: st.role });
    };
    pc.ontrack = (e) => {
      if (gen !== this.gen) return;
      stream.addTrack(e.track);
      this.update({});
    };
    pc.onconnectionstatechange = () => {
      if (gen !== this.gen) return;
      switch (pc.connectionState) {
        case "connected":
          this.backoff.reset();
          this.lastBytes = 0;
          this.lastBytesAt = Date.now();
          this.update({ phase: "playing", error: undefined, attempts: 0 });
          this.watchStall(gen);
          break;
        case "failed":
          this.fail(gen, new Error("connection failed"));
          break;
        case "closed":
          this.fail(gen, new Error("connection closed"));
          break;
        case "disconnected":
          this.later(() => {
            if (gen === this.gen && pc.connectionState === "disconnected") {
              this.fail(gen, new Error("connection lost"));
            }
          }, this.deps.disconnectGraceMs ?? 3000);
          break;
      }
    };
    try {
      const o = await pc.createOffer();
      await pc.setLocalDescription(o);
      await waitIceGathering(pc, 1500);
      if (gen !== this.gen) return;
      const url = whepURL(this.deps.base, this.instanceId, this.params);
      const ans = await offer(this.deps.fetch, url, pc.localDescription?.sdp ?? o.sdp ?? "");
      if (gen !== this.gen) {
        void hangup(this.deps.fetch, ans.location);
        return;
      }
      this.location = ans.location;
      this.update({ role: ans.role });
      await pc.setRemoteDescription({ type: "answer", sdp: ans.sdp });
      this.later(() => {
        if (gen === this.gen && pc.connectionState !== "connected") {
          this.fail(gen, new Error("no media connection (ICE) in time"));
        }
      }, this.deps.connectTimeoutMs ?? 15000);
    } catch (e) {
      this.fail(gen, e);
    }
  }

  /** watchStall reconnects when no media bytes arrive for stallMs while playing. */
  private watchStall(gen: number): void {
    const stallMs = this.deps.stallMs ?? 12000;
    const tick = async () => {
      if (gen !== this.gen || !this.pc) return;
      let bytes = 0;
      try {
        const stats = await this.pc.getStats();
        stats.forEach((r: { type?: string; bytesReceived?: number }) => {
          if (r.type === "inbound-rtp") bytes += r.bytesReceived ?? 0;
        });
      } catch {
        return;
      }
      if (gen !== this.gen) return;
      const now = Date.now();
      if (bytes > this.lastBytes) {
        this.lastBytes = bytes;
        this.lastBytesAt = now;
      } else if (now - this.lastBytesAt > stallMs) {
        this.fail(gen, new Error(`no media for ${Math.round(stallMs / 1000)} s`));
        return;
      }
      this.later(() => void tick(), 2000);
    };
    this.later(() => void tick(), 2000);
  }
}
