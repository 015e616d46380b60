import { memo, useRef } from "react";
import { badgeOf, type Instance } from "../api/types";
import { describe, useBindVideo, useFrameCounter, useNow, useSession, useSessionStatus } from "../media/hooks";
import { AudioControls, Meter } from "./AudioControls";
import { Badge } from "./Badge";
import { Icon } from "./Icon";

/**
 * tileMaxWidth is the width asked of the agent for a grid tile (WHEP maxWidth): a third of the grid's width in
 * device pixels, rounded up to 160. The focus view asks for the full picture when the tile's layer is smaller.
 */
export function tileMaxWidth(): number {
  const gridCss = Math.min(window.innerWidth, ((window.innerHeight - 64) * 4) / 3);
  const px = (gridCss / 3) * (window.devicePixelRatio || 1);
  return Math.max(320, Math.ceil(px / 160) * 160);
}

interface Props {
  inst: Instance;
  slot: number;
  onOpen: (id: string) => void;
}

export const Tile = memo(function Tile({ inst, slot, onOpen }: Props) {
  const session = useSession(inst.id, tileMaxWidth());
  const st = useSessionStatus(session);
  const video = useRef<HTMLVideoElement>(null);
  const fps = useRef<HTMLSpanElement>(null);
  useBindVideo(session, video);
  useFrameCounter(video, fps);
  const now = useNow(st.phase === "waiting");
  // Counted for the end-to-end test that checks frames never re-render React.
  const renders = useRef(0);
  renders.current++;
  const badge = badgeOf(inst);
  const controller = st.input?.controller ?? inst.controller;
  const viewers = inst.health?.viewers ?? 0;
  return (
    <div
      data-testid="tile"
      data-instance={inst.id}
      data-phase={st.phase}
      data-renders={renders.current}
      className="group relative aspect-[4/3] cursor-pointer overflow-hidden rounded-lg bg-black ring-1 ring-white/10 hover:ring-2 hover:ring-emerald-400"
      onClick={() => onOpen(inst.id)}
    >
      <video ref={video} muted autoPlay playsInline className="h-full w-full object-contain" />
      <div className="pointer-events-none absolute inset-x-0 top-0 flex items-center gap-2 bg-gradient-to-b from-black/80 to-transparent px-2 py-1 text-sm">
        <kbd className="rounded bg-white/15 px-1 text-[11px]">Ctrl+{slot}</kbd>
        <span className="truncate font-medium" data-testid="name">
          {inst.id}
        </span>
        <span className="ml-auto">
          <Badge kind={badge} title={inst.reason || inst.health?.reasons?.join("; ")} />
        </span>
      </div>
      {st.phase !== "playing" && (
        <div
          data-testid="tile-status"
          className="pointer-events-none absolute inset-0 flex flex-col items-center justify-center gap-1 bg-black/60 text-sm"
        >
          <span>{describe(st, now)}</span>
          {st.error && <span className="max-w-[90%] truncate text-xs text-neutral-400">{st.error}</span>}
        </div>
      )}
      <div className="absolute inset-x-0 bottom-0 flex items-center gap-2 bg-gradient-to-t from-black/80 to-transparent px-2 py-1 text-xs">
        <Meter id={inst.id} />
        <AudioControls id={inst.id} />
        <span ref={fps} className="tabular-nums text-neutral-400" />
        <span className="ml-auto flex items-center gap-2">
          {controller?.id && <span title="holds control" className="flex items-center gap-1"><Icon name="pad" /> {controller.name || controller.id}</span>}
          <span data-testid="viewers" title="viewers" className="flex items-center gap-1">
            <Icon name="eye" /> {viewers}
          </span>
        </span>
      </div>
    </div>
  );
});
