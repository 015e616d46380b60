import { describe, expect, it } from "vitest";
import { WhepError, hangup, offer, whepURL } from "./client";

const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";

interface Call {
  url: string;
  init?: RequestInit;
}

function fakeFetch(respond: (c: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = async (url: string, init?: RequestInit) => {
    const c = { url, init };
    calls.push(c);
    return respond(c);
  };
  return { fn, calls };
}

describe("whepURL", () => {
  it("adds role, viewer, name and maxWidth", () => {
    const u = new URL(
      whepURL("http://b:8080", "loco-emulator-3", { role: "controller", viewer: "v-1", name: "Ana B", maxWidth: 480.4 }),
    );
    expect(u.pathname).toBe("/api/instances/loco-emulator-3/whep");
    expect(u.searchParams.get("role")).toBe("controller");
    expect(u.searchParams.get("viewer")).toBe("v-1");
    expect(u.searchParams.get("name")).toBe("Ana B");
    expect(u.searchParams.get("maxWidth")).toBe("480");
  });
  it("omits what is unset and escapes the id", () => {
    const u = new URL(whepURL("http://b", "a/b", {}));
    expect(u.pathname).toBe("/api/instances/a%2Fb/whep");
    expect(u.search).toBe("");
  });
});

describe("offer", () => {
  it("POSTs application/sdp and reads answer, Location and granted role", async () => {
    const f = fakeFetch(
      () =>
        new Response(SDP, {
          status: 201,
          headers: {
            "Content-Type": "application/sdp",
            Location: "/api/instances/i0/whep/sessions/s1",
            "X-Loco-Role": "controller",
          },
        }),
    );
    const a = await offer(f.fn, "http://b:8080/api/instances/i0/whep?role=controller", "v=0 offer");
    expect(f.calls[0].init?.method).toBe("POST");
    expect((f.calls[0].init?.headers as Record<string, string>)["Content-Type"]).toBe("application/sdp");
    expect(f.calls[0].init?.body).toBe("v=0 offer");
    expect(a).toEqual({ sdp: SDP, location: "http://b:8080/api/instances/i0/whep/sessions/s1", role: "controller" });
  });
  it("defaults to spectator when the role header is missing", async () => {
    const f = fakeFetch(() => new Response(SDP, { status: 201, headers: { Location: "/s/1" } }));
    expect((await offer(f.fn, "http://b/x", "o")).role).toBe("spectator");
  });
  it("turns 503 into a WhepError carrying Retry-After", async () => {
    const f = fakeFetch(() => new Response("agent not attached", { status: 503, headers: { "Retry-After": "3" } }));
    const e = await offer(f.fn, "http://b/x", "o").catch((x) => x);
    expect(e).toBeInstanceOf(WhepError);
    expect(e.status).toBe(503);
    expect(e.retryAfterMs).toBe(3000);
    expect(e.message).toContain("agent not attached");
  });
  it("reports 404 and network errors", async () => {
    const e404 = await offer(fakeFetch(() => new Response("unknown instance", { status: 404 })).fn, "http://b/x", "o").catch(
      (x) => x,
    );
    expect(e404.status).toBe(404);
    const eNet = await offer(
      async () => {
        throw new TypeError("Failed to fetch");
      },
      "http://b/x",
      "o",
    ).catch((x) => x);
    expect(eNet).toBeInstanceOf(WhepError);
    expect(eNet.status).toBe(0);
  });
  it("rejects an answer without SDP or Location", async () => {
    const noSdp = fakeFetch(() => new Response("hello", { status: 201, headers: { Location: "/s" } }));
    await expect(offer(noSdp.fn, "http://b/x", "o")).rejects.toThrow(/not SDP/);
    const noLoc = fakeFetch(() => new Response(SDP, { status: 201 }));
    await expect(offer(noLoc.fn, "http://b/x", "o")).rejects.toThrow(/Location/);
  });
});

describe("hangup", () => {
  it("DELETEs the session URL and swallows errors", async () => {
    const f = fakeFetch(() => new Response("", { status: 200 }));
    await hangup(f.fn, "http://b/api/instances/i0/whep/sessions/s1");
    expect(f.calls[0]).toMatchObject({ url: "http://b/api/instances/i0/whep/sessions/s1", init: { method: "DELETE" } });
    await hangup(async () => {
      throw new Error("down");
    }, "http://b/s");
  });
});
