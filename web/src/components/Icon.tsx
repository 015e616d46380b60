// Small inline icons (the machines this runs on may have no emoji font).
const paths = {
  speaker: "M3 6h3l4-3v10L6 10H3z M12 5.5a3.5 3.5 0 0 1 0 5 M13.5 3.5a6 6 0 0 1 0 9",
  muted: "M3 6h3l4-3v10L6 10H3z M12 6l3 4 M15 6l-3 4",
  eye: "M1 8s2.5-5 7-5 7 5 7 5-2.5 5-7 5-7-5-7-5z M8 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
  pad: "M4 5h8a3 3 0 0 1 3 3v1a2 2 0 0 1-3.5 1.3L10 9H6l-1.5 1.3A2 2 0 0 1 1 9V8a3 3 0 0 1 3-3z M4.5 6.5v2 M3.5 7.5h2",
  train: "M4 2h8a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z M2 8h12 M5 13l-2 2 M11 13l2 2",
} as const;

export function Icon({ name, className }: { name: keyof typeof paths; className?: string }) {
  return (
    <svg viewBox="0 0 16 16" className={className ?? "inline h-3.5 w-3.5"} fill="none" stroke="currentColor" strokeWidth={1.4} strokeLinecap="round" strokeLinejoin="round" aria-hidden>
      <path d={paths[name]} />
    </svg>
  );
}
