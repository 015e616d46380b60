import { parseRetryAfter } from "../state/backoff";

// WHEP signaling against the broker (docs/api.md): POST an SDP offer, get 201 with the answer,
// a session URL (Location) and the granted role (X-Loco-Role); DELETE the session URL to leave.

export type Role = "controller" | "spectator";

export interface WhepParams {
  role?: Role;
  viewer?: string;
  name?: string;
  maxWidth?: number;
}

export interface WhepAnswer {
  sdp: string;
  /** Absolute session URL for DELETE. */
  location: string;
  role: Role;
}

/** WhepError is a refused offer; retryAfterMs comes from a 503's Retry-After. */
export class WhepError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "WhepError";
  }
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** whepURL builds the offer URL of an instance with the optional query parameters. */
export function whepURL(base: string, instanceId: string, p: WhepParams): string {
  const u = new URL(`/api/instances/${encodeURIComponent(instanceId)}/whep`, base);
  if (p.role) u.searchParams.set("role", p.role);
  if (p.viewer) u.searchParams.set("viewer", p.viewer);
  if (p.name) u.searchParams.set("name", p.name);
  if (p.maxWidth && p.maxWidth > 0) u.searchParams.set("maxWidth", String(Math.round(p.maxWidth)));
  return u.toString();
}

/** offer POSTs the SDP offer and returns the answer, or throws WhepError. */
export async function offer(
  fetchFn: FetchFn,
  url: string,
  sdp: string,
  signal?: AbortSignal,
): Promise<WhepAnswer> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp" },
      body: sdp,
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new WhepError(`broker unreachable: ${(e as Error).message}`, 0);
  }
  if (res.status !== 201) {
    const text = (await res.text().catch(() => "")).trim().slice(0, 200);
    throw new WhepError(
      `WHEP offer refused: ${res.status}${text ? ` ${text}` : ""}`,
      res.status,
      parseRetryAfter(res.headers.get("Retry-After")),
    );
  }
  const answer = await res.text();
  if (!answer.startsWith("v=")) throw new WhepError("WHEP answer is not SDP", res.status);
  const loc = res.headers.get("Location");
  if (!loc) throw new WhepError("WHEP answer has no Location", res.status);
  return {
    sdp: answer,
    location: new URL(loc, url).toString(),
    role: res.headers.get("X-Loco-Role") === "controller" ? "controller" : "spectator",
  };
}

/** hangup DELETEs a session URL; errors are ignored (the agent times sessions out anyway). */
export async function hangup(fetchFn: FetchFn, location: string): Promise<void> {
  try {
    await fetchFn(location, { method: "DELETE", keepalive: true });
  } catch {
    // best effort
  }
}

/** waitIceGathering resolves when the local candidates are in the SDP (or after timeoutMs). */
export function waitIceGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const t = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
