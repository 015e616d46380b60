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

/** The agent's gauge of frames handed to its video encoder per second (agent/internal/health, /metrics). */
export const encodedFpsMetric = 'loco_agent_encoded_fps';

async function encodedFps(base) {
  const res = await fetch(`${base}/metrics`);
  const v = parseMetrics(await res.text()).get(encodedFpsMetric);
  if (v === undefined) throw new Error(`${base}/metrics has no ${encodedFpsMetric}`);
  return v;
}

/**
 * density adds instances one at a time (up to max) and after each addition measures every instance's encoded frame
 * rate over windowSecs; it returns the largest count at which all of them kept >= minFps, and the rates seen.
 * A viewer is attached to each agent when `attachViewer` is given (an agent may encode only while watched).
 */
export async function density(env, { scene, depth, codec, max, minFps = 28, floorFps = 20, windowSecs = 4, settleSecs = 2, attachViewer }) {
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
      // The gauge is a one-second measurement: average one reading per second over the window.
      const sums = running.map(() => 0);
      for (let k = 0; k < windowSecs; k++) {
        await sleep(1000);
        const v = await Promise.all(running.map((r) => encodedFps(r.agent.base)));
        v.forEach((x, i) => { sums[i] += x; });
      }
      const rates = sums.map((x) => x / windowSecs);
      const min = Math.min(...rates);
      steps.push({ n, minFps: min, rates });
      if (min >= minFps && best === n - 1) best = n;
      // Go on past the threshold while the picture is still fluid, so the report shows the curve.
      if (min < floorFps) break;
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
