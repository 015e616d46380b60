// How the harness runs the synthetic VNC server (agent/cmd/loco-vncsynth) and reads its paint log.
import fs from 'node:fs';

/** synthArgs returns loco-vncsynth's arguments for one scene. */
export function synthArgs({ listen, scene, depth, paintLog }) {
  return [`--listen=${listen}`, `--scene=${scene}`, `--depth=${depth}`, `--paint-log=${paintLog}`];
}

/** readPaintLog returns Map stamp -> paintedAtEpochMs from the server's paint log. */
export function readPaintLog(file) {
  const painted = new Map();
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return painted; }
  for (const line of text.split('\n')) {
    const [stamp, ns] = line.trim().split(/\s+/);
    if (!ns) continue;
    if (!painted.has(Number(stamp))) painted.set(Number(stamp), Number(BigInt(ns) / 1000n) / 1000);
  }
  return painted;
}
