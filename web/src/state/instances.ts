// The instance list as the UI holds it: a pure reducer over the broker's SSE events and
// snapshots, plus the grid's paging. No I/O here, so it is unit-tested directly.
import type { Instance, InstanceEvent } from "../api/types";

export type Instances = ReadonlyMap<string, Instance>;

export type Action =
  | { kind: "reset"; instances: Instance[] }
  | { kind: "event"; event: InstanceEvent };

/** reduce applies one action; it returns the same map when nothing changed. */
export function reduce(state: Instances, action: Action): Instances {
  if (action.kind === "reset") {
    const next = new Map<string, Instance>();
    for (const inst of action.instances) {
      if (inst?.id && inst.state !== "INSTANCE_STATE_GONE") next.set(inst.id, inst);
    }
    return next;
  }
  const ev = action.event;
  const inst = ev.instance;
  if (!inst?.id) return state;
  const gone = ev.type === "EVENT_TYPE_REMOVED" || inst.state === "INSTANCE_STATE_GONE";
  if (gone) {
    if (!state.has(inst.id)) return state;
    const next = new Map(state);
    next.delete(inst.id);
    return next;
  }
  const next = new Map(state);
  next.set(inst.id, inst);
  return next;
}

/** ordered returns the instances in grid order: ordinal, then id. */
export function ordered(state: Instances): Instance[] {
  return [...state.values()].sort(
    (a, b) => (a.ordinal ?? 0) - (b.ordinal ?? 0) || a.id.localeCompare(b.id),
  );
}

export const PAGE_SIZE = 9;

export function pageCount(n: number, size = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(n / size));
}

/** page returns the slice of list shown on page p (clamped to the last page). */
export function page<T>(list: readonly T[], p: number, size = PAGE_SIZE): T[] {
  const last = pageCount(list.length, size) - 1;
  const q = Math.min(Math.max(0, p), last);
  return list.slice(q * size, q * size + size);
}

/** clampPage keeps p valid when the list shrinks. */
export function clampPage(p: number, n: number, size = PAGE_SIZE): number {
  return Math.min(Math.max(0, p), pageCount(n, size) - 1);
}
