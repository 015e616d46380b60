// How the harness runs the synthetic VNC server (agent/cmd/loco-vncsynth) and reads its paint log.
import fs from 'node:fs';

/** synthArgs returns loco-vncsynth's arguments for one scene. */
export function synthArgs({ listen, scene, depth, paintLog }) {
  return [`--listen=${listen}`, `--scene=${scene}`, `--bpp=${depth}`, `--paint-log=${paintLog}`, '--events-stdout=false', '--fps=30'];
}

/** readPaintLog returns Map stamp -> paintedAtEpochMs from the server's paint log. */
export function readPaintLog(file) {
  const painted = new Map();
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return painted; }
  // One JSON line per painted frame: {"frame":123,"stamp":123,"unix_nano":...}; the first paint of a stamp counts
  // (stamps are the frame number's low 16 bits: they repeat after 36 minutes at 30 frames/s).
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let rec;
    try { rec = JSON.parse(line.replace(/"unix_nano":(\d+)/, '"unix_nano":"$1"')); } catch { continue; }
    if (!painted.has(rec.stamp)) painted.set(rec.stamp, Number(BigInt(rec.unix_nano) / 1000n) / 1000);
  }
  return painted;
}
