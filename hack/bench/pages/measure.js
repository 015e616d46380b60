// Shared by the benchmark pages: reads the frame stamp from pixels and records when each new stamp was shown.
// Times are epoch milliseconds on this machine's clock (performance.timeOrigin + a high-resolution timestamp), so
// the harness can subtract the synthetic server's paint times from them.
import { STAMP, decodeStamp } from './stamp.js';

export const bench = {
  samples: [], // [stamp, shownAtEpochMs] for the first time each stamp was shown
  ticks: 0, // frames presented (rVFC callbacks) or animation frames looked at (rAF)
  undecoded: 0, // presented frames whose stamp did not decode
  wsBytes: 0, // WebSocket bytes received (noVNC)
  lastStamp: -1,
  errors: [],
};
window.bench = bench;

const scratch = document.createElement('canvas');
scratch.width = STAMP.width;
scratch.height = STAMP.height;
const sctx = scratch.getContext('2d', { willReadFrequently: true });

/** look reads the stamp from `source` (a canvas or a video) and records it when it is new. */
export function look(source, atMs) {
  bench.ticks++;
  sctx.drawImage(source, STAMP.x, STAMP.y, STAMP.width, STAMP.height, 0, 0, STAMP.width, STAMP.height);
  const px = sctx.getImageData(0, 0, STAMP.width, STAMP.height);
  const stamp = decodeStamp(px.data, STAMP.width, STAMP.height);
  if (stamp === null) { bench.undecoded++; return; }
  if (stamp !== bench.lastStamp) {
    bench.lastStamp = stamp;
    bench.samples.push([stamp, performance.timeOrigin + atMs]);
  }
}

/** reset starts a new measuring window (keeps the connection). */
export function reset() {
  bench.samples = [];
  bench.ticks = 0;
  bench.undecoded = 0;
  bench.wsBytes = 0;
}
window.benchReset = reset;
