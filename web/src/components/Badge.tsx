import { type Badge as BadgeKind } from "../api/types";

const styles: Record<BadgeKind, string> = {
  healthy: "bg-emerald-600",
  degraded: "bg-amber-500 text-black",
  unhealthy: "bg-red-600",
  connecting: "bg-sky-700",
};

export function Badge({ kind, title }: { kind: BadgeKind; title?: string }) {
  return (
    <span
      data-testid="badge"
      data-badge={kind}
      title={title}
      className={`rounded px-1.5 py-0.5 text-[11px] font-semibold uppercase tracking-wide ${styles[kind]}`}
    >
      {kind}
    </span>
  );
}
