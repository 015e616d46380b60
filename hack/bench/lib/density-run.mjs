// Density figures: instances per machine that keep >= 28 encoded frames/s, per scene and codec.
import { guard, measured } from './figure.mjs';
import { density } from './density.mjs';

export const densityScenes = ['town', 'motion'];
export const densityCodecs = ['h264', 'vp8'];

export async function densityFigures(env, plan, need, log) {
  const out = {};
  for (const scene of densityScenes) {
    for (const codec of densityCodecs) {
      const key = `${scene}/${codec}`;
      log(`density ${key}`);
      out[key] = (await guard(['instances'], async () => {
        need('vncsynth', 'agent');
        const d = await density(env, { scene, depth: 16, codec, max: plan.densityMax, windowSecs: plan.densityWindow,
          settleSecs: plan.smoke ? 1 : 2 });
        log(`density ${key}: ${d.instances} (${d.steps.map((s) => `${s.n}:${s.minFps.toFixed(1)}`).join(' ')})`);
        return { instances: measured(d.instances, 'instances', { steps: d.steps, capped: d.capped, max: plan.densityMax }) };
      }, log)).instances;
    }
  }
  return out;
}
