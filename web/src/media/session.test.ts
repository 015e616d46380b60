import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Backoff } from "../state/backoff";
import { Session } from "./session";
import { FakePC, FakeStream } from "./testing";

const SDP = "v=0 answer";
type Reply = { status: number; headers?: Record<string, string>; body?: string };

function setup(replies: Reply[]) {
  const calls: { url: string; method?: string }[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    calls.push({ url, method: init?.method });
    if (init?.method === "DELETE") return new Response("", { status: 200 });
    const r = replies.shift() ?? { status: 201 };
    return new Response(r.status === 201 ? (r.body ?? SDP) : (r.body ?? "no"), {
      status: r.status,
      headers: r.status === 201 ? { Location: "/api/instances/i0/whep/sessions/s1", ...r.headers } : r.headers,
    });
  };
  const s = new Session(
    "i0",
    { viewer: "v-me", maxWidth: 640 },
    {
      base: "http://broker",
      fetch,
      createPeerConnection: () => new FakePC() as unknown as RTCPeerConnection,
      backoff: new Backoff({ initialMs: 1000, maxMs: 8000, factor: 2, jitter: 0 }),
      connectTimeoutMs: 15000,
      disconnectGraceMs: 3000,
    },
  );
  return { s, calls };
}

const posts = (calls: { method?: string }[]) => calls.filter((c) => c.method === "POST").length;

describe("Session", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakePC.all = [];
    vi.stubGlobal("MediaStream", FakeStream);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("connects, reports playing, and carries the agent's status", async () => {
    const { s, calls } = setup([{ status: 201, headers: { "X-Loco-Role": "spectator" } }]);
    s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls[0].url).toBe("http://broker/api/instances/i0/whep?viewer=v-me&maxWidth=640");
    const pc = FakePC.all[0];
    expect(pc.remote).toBe(SDP);
    expect(s.status.phase).toBe("connecting");
    pc.set("connected");
    expect(s.status.phase).toBe("playing");
    pc.dc.onmessage?.({
      data: '{"type":"status","role":"controller","controller":{"id":"v-me","name":"Me"},"width":800,"height":600,"relative":true}',
    });
    expect(s.status.role).toBe("controller");
    expect(s.status.input?.width).toBe(800);
    expect(s.send(Uint8Array.of(6))).toBe(true);
    expect(pc.dc.sent).toHaveLength(1);
  });

  it("waits with back-off after refused offers, honouring Retry-After, and says so", async () => {
    const { s, calls } = setup([
      { status: 503, headers: { "Retry-After": "3" } },
      { status: 504 },
      { status: 201 },
    ]);
    s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.status.phase).toBe("waiting");
    expect(s.status.error).toContain("503");
    expect(s.status.retryAt! - Date.now()).toBe(3000);
    await vi.advanceTimersByTimeAsync(2999);
    expect(posts(calls)).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts(calls)).toBe(2);
    expect(s.status.phase).toBe("waiting");
    expect(s.status.retryAt! - Date.now()).toBe(2000); // second attempt of the back-off
    await vi.advanceTimersByTimeAsync(2000);
    expect(posts(calls)).toBe(3);
    FakePC.all.at(-1)!.set("connected");
    expect(s.status.phase).toBe("playing");
    expect(s.status.attempts).toBe(0);
  });

  it("reconnects after the connection fails (agent killed) and after a long disconnect", async () => {
    const { s, calls } = setup([]);
    s.start();
    await vi.advanceTimersByTimeAsync(0);
    FakePC.all[0].set("connected");
    FakePC.all[0].set("failed");
    expect(s.status.phase).toBe("waiting");
    expect(FakePC.all[0].closed).toBe(true);
    expect(calls.some((c) => c.method === "DELETE")).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakePC.all).toHaveLength(2);
    FakePC.all[1].set("connected");
    FakePC.all[1].set("disconnected");
    await vi.advanceTimersByTimeAsync(2999);
    expect(s.status.phase).toBe("playing");
    await vi.advanceTimersByTimeAsync(1);
    expect(s.status.phase).toBe("waiting");
  });

  it("recovers by itself from a short disconnect", async () => {
    const { s } = setup([]);
    s.start();
    await vi.advanceTimersByTimeAsync(0);
    const pc = FakePC.all[0];
    pc.set("connected");
    pc.set("disconnected");
    await vi.advanceTimersByTimeAsync(1000);
    pc.set("connected");
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.status.phase).toBe("playing");
    expect(FakePC.all).toHaveLength(1);
  });

  it("gives up on ICE that never connects", async () => {
    const { s } = setup([]);
    s.start();
    await vi.advanceTimersByTimeAsync(15000);
    expect(s.status.phase).toBe("waiting");
    expect(s.status.error).toMatch(/ICE/);
  });

  it("kick skips the back-off; close stops everything", async () => {
    const { s, calls } = setup([{ status: 503 }, { status: 503 }]);
    s.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.status.phase).toBe("waiting");
    s.kick();
    await vi.advanceTimersByTimeAsync(0);
    expect(posts(calls)).toBe(2);
    s.close();
    expect(s.status.phase).toBe("closed");
    await vi.advanceTimersByTimeAsync(60000);
    expect(posts(calls)).toBe(2);
  });

  it("reconnects with new parameters on request", async () => {
    const { s, calls } = setup([]);
    s.start();
    await vi.advanceTimersByTimeAsync(0);
    s.setParams({ role: "controller", maxWidth: undefined }, true);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.filter((c) => c.method === "POST").at(-1)!.url).toBe(
      "http://broker/api/instances/i0/whep?role=controller&viewer=v-me",
    );
    expect(FakePC.all[0].closed).toBe(true);
  });
});
