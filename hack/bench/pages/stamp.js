// The frame stamp of the synthetic VNC server (agent/internal/vncsynth, "Frame stamp"): 18 blocks of 16x16 pixels
// in the top-left corner — a white reference, a black reference, then the frame number's 16 bits, most significant
// first, white for 1. Each block is read as the mean of R, G and B over its inner 8x8 pixels, so it survives lossy
// compression; a stamp is valid when the white reference is at least 64 brighter than the black one.
export const STAMP = { x: 0, y: 0, width: 288, height: 16 };

export function decodeStamp(d, width) {
  const px = (x, y) => { const i = (y * width + x) * 4; return (d[i] + d[i + 1] + d[i + 2]) / 3; };
  const mean = (b) => { let s = 0; for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) s += px(b * 16 + x, y); return s / 64; };
  const w = mean(0);
  const k = mean(1);
  if (w - k < 64) return null;
  let n = 0;
  for (let i = 0; i < 16; i++) n = (n << 1) | (mean(2 + i) > (w + k) / 2 ? 1 : 0);
  return n;
}
