// Density: how many agents, each with its own synthetic VNC server showing one scene, keep encoding at least
// minFps frames per second on this machine, read from each agent's own /metrics.
import { sleep, stop } from './proc.mjs';
import { startAgent, startSynth } from './scenarios.mjs';

/** parseMetrics turns Prometheus text into Map name{labels} -> value. */
export function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** The agent's counter of frames handed to its encoder (docs: "frames/s encoded" in /metrics). */
export const encodedFramesMetric = /^loco_agent_(video_)?frames_encoded_total(\{.*\})?$/;

async function encodedFrames(base) {
  const res = await fetch(`${base}/metrics`);
  const metrics = parseMetrics(await res.text());
  let total = null;
  for (const [k, v] of metrics) if (encodedFramesMetric.test(k)) total = (total ?? 0) + v;
  if (total === null) throw new Error(`no metric matching ${encodedFramesMetric} in ${base}/metrics`);
  return total;
}

/**
 * density adds instances one at a time (up to max) and after each addition measures every instance's encoded frame
 * rate over windowSecs; it returns the largest count at which all of them kept >= minFps, and the rates seen.
 * A viewer is attached to each agent when `attachViewer` is given (an agent may encode only while watched).
 */
export async function density(env, { scene, depth, codec, max, minFps = 28, windowSecs = 4, settleSecs = 2, attachViewer }) {
  const running = [];
  const steps = [];
  let best = 0;
  try {
    for (let n = 1; n <= max; n++) {
      const name = `density-${scene}-${codec}-${n}`;
      const synth = await startSynth(env, { scene, depth, name });
      const agent = await startAgent(env, { vncPort: synth.port, codec, name });
      const viewer = attachViewer ? await attachViewer(agent) : null;
      running.push({ synth, agent, viewer });
      await sleep(settleSecs * 1000);
      const before = await Promise.all(running.map((r) => encodedFrames(r.agent.base)));
      const t0 = Date.now();
      await sleep(windowSecs * 1000);
      const after = await Promise.all(running.map((r) => encodedFrames(r.agent.base)));
      const secs = (Date.now() - t0) / 1000;
      const rates = after.map((a, i) => (a - before[i]) / secs);
      const min = Math.min(...rates);
      steps.push({ n, minFps: min, rates });
      if (min >= minFps) best = n; else break;
    }
  } finally {
    for (const r of running.reverse()) {
      if (r.viewer) await r.viewer.close().catch(() => {});
      await stop(r.agent.child);
      await stop(r.synth.child);
    }
  }
  return { instances: best, steps, capped: best === max };
}
