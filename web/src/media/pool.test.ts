import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Pool } from "./pool";
import { FakePC, FakeStream } from "./testing";

describe("Pool", () => {
  const urls: string[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    if (init?.method !== "DELETE") urls.push(url);
    return new Response("v=0 answer", { status: 201, headers: { Location: "/s/1" } });
  };
  let pool: Pool;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("MediaStream", FakeStream);
    FakePC.all = [];
    urls.length = 0;
    pool = new Pool(
      { id: "v-me", name: "Me" },
      { base: "http://b", fetch, createPeerConnection: () => new FakePC() as unknown as RTCPeerConnection },
      3000,
    );
  });
  afterEach(() => {
    pool.closeAll();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("shares one session per instance and closes it after the grace period", async () => {
    const a = pool.acquire("i0", 640);
    const b = pool.acquire("i0");
    expect(b).toBe(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakePC.all).toHaveLength(1);
    expect(urls[0]).toBe("http://b/api/instances/i0/whep?role=spectator&viewer=v-me&name=Me&maxWidth=640");
    pool.release("i0");
    pool.release("i0");
    await vi.advanceTimersByTimeAsync(2000);
    expect(pool.get("i0")).toBe(a); // re-acquired within the grace period: kept
    pool.acquire("i0");
    await vi.advanceTimersByTimeAsync(5000);
    expect(a.status.phase).not.toBe("closed");
    pool.release("i0");
    await vi.advanceTimersByTimeAsync(3000);
    expect(a.status.phase).toBe("closed");
    expect(pool.get("i0")).toBeUndefined();
    expect(FakePC.all[0].closed).toBe(true);
  });

  it("asks for the controller role on reconnects after control was wanted", async () => {
    const s = pool.acquire("i1");
    await vi.advanceTimersByTimeAsync(0);
    pool.setWantControl("i1", true);
    expect(s.currentParams.role).toBe("controller");
    s.setParams({}, true);
    await vi.advanceTimersByTimeAsync(0);
    expect(urls.at(-1)).toContain("role=controller");
    pool.setWantControl("i1", false);
    expect(s.currentParams.role).toBe("spectator");
  });
});
