// wallLayout places n screens on a curved wall around the viewer: up to three rows of three on an
// arc of radius R centred on the viewer's position, each screen turned to face the centre.

export interface Placement {
  x: number;
  y: number;
  z: number;
  /** Rotation about the vertical axis, degrees. */
  yaw: number;
  width: number;
  height: number;
}

export const WALL_RADIUS = 4;
const EYE = 1.6;

export function wallLayout(n: number, perRow = 3, radius = WALL_RADIUS): Placement[] {
  const width = 1.6;
  const height = 1.2;
  const gap = 0.15;
  const rows = Math.max(1, Math.ceil(n / perRow));
  const step = (width + gap) / radius; // radians per column
  const out: Placement[] = [];
  for (let i = 0; i < n; i++) {
    const row = Math.floor(i / perRow);
    const col = i % perRow;
    const inRow = Math.min(perRow, n - row * perRow);
    const angle = (col - (inRow - 1) / 2) * step; // 0 = straight ahead (-z)
    const y = EYE + ((rows - 1) / 2 - row) * (height + gap);
    out.push({
      x: radius * Math.sin(angle),
      y,
      z: -radius * Math.cos(angle),
      yaw: (-angle * 180) / Math.PI,
      width,
      height,
    });
  }
  return out;
}
