// EventsClient follows the broker's registry: GET /api/instances for a full picture on every
// (re)connect, then /api/events (SSE) for every change. EventSource retries by itself after a
// dropped stream; when it gives up (broker down, wrong answer) this client retries with back-off.
import { Backoff } from "../state/backoff";
import type { Instance, InstanceEvent } from "./types";
import type { Action } from "../state/instances";

export type EventsPhase = "connecting" | "live" | "waiting";

export interface EventsStatus {
  phase: EventsPhase;
  retryAt?: number;
}

export class EventsClient {
  private es?: EventSource;
  private timer?: ReturnType<typeof setTimeout>;
  private backoff = new Backoff({ initialMs: 1000, maxMs: 10000, factor: 2, jitter: 0.1 });
  private closed = false;

  constructor(
    private readonly base: string,
    private readonly dispatch: (a: Action) => void,
    private readonly onStatus: (s: EventsStatus) => void,
  ) {}

  start(): void {
    this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.es?.close();
  }

  private async resync(): Promise<void> {
    try {
      const res = await fetch(new URL("/api/instances", this.base));
      if (!res.ok) return;
      const body = (await res.json()) as { instances?: Instance[] };
      if (!this.closed) this.dispatch({ kind: "reset", instances: body.instances ?? [] });
    } catch {
      // the SSE snapshot still fills the list
    }
  }

  private connect(): void {
    if (this.closed) return;
    this.onStatus({ phase: "connecting" });
    const es = new EventSource(new URL("/api/events", this.base));
    this.es = es;
    es.addEventListener("open", () => {
      this.backoff.reset();
      this.onStatus({ phase: "live" });
      void this.resync();
    });
    es.addEventListener("instance", (e) => {
      try {
        const ev = JSON.parse((e as MessageEvent<string>).data) as InstanceEvent;
        this.dispatch({ kind: "event", event: ev });
      } catch {
        // a malformed event is skipped; the next snapshot repairs the picture
      }
    });
    es.addEventListener("error", () => {
      if (this.closed) return;
      if (es.readyState === EventSource.CLOSED) {
        const d = this.backoff.next();
        this.onStatus({ phase: "waiting", retryAt: Date.now() + d });
        this.timer = setTimeout(() => this.connect(), d);
      } else {
        this.onStatus({ phase: "connecting" });
      }
    });
  }
}
