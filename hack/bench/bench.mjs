#!/usr/bin/env node
// The Loco Cluster benchmark harness. Measures our WebRTC path (agent -> Chromium, VP8 and H.264) beside the noVNC
// baseline (websockify -> noVNC in Chromium) on the same synthetic VNC content in the same run, plus density, broker
// scale and behaviour under loss, and writes the table to docs/benchmarks.md (and every raw figure to JSON).
//
// Usage: node hack/bench/bench.mjs [--smoke] [--out docs/benchmarks.md] [--json FILE] [--only streams,density,broker,loss,k8s]
//   --smoke   a short run (one scene, 1-2 s windows, small scales) that produces every kind of figure: used by make test
// Environment: LOCO_CACHE (built programs in $LOCO_CACHE/bench/bin), LOCO_BENCH_CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launch } from './lib/browser.mjs';
import { buildAll, repoRoot } from './lib/components.mjs';
import { componentError, guard, measured, notMeasured } from './lib/figure.mjs';
import { stopAll } from './lib/proc.mjs';
import { runNoVNC, runWebRTC } from './lib/scenarios.mjs';
import { densityFigures } from './lib/density-run.mjs';
import { brokerFigures } from './lib/broker-run.mjs';
import { lossFigures } from './lib/loss.mjs';
import { readyToEvent } from './lib/k8s.mjs';
import { machine, render } from './lib/report.mjs';

const { values: opts } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string', default: 'streams,density,broker,loss,k8s' },
  },
});
const only = new Set(opts.only.split(','));
const smoke = opts.smoke;
const plan = smoke
  ? { smoke: true, scenes: ['town'], depths: [32], secs: 2, warmup: 1, densityMax: 1, densityWindow: 2, agents: 50, viewers: 50, whepSecs: 2, lossSecs: 2, bursts: 1 }
  : { smoke: false, scenes: ['town', 'motion', 'still'], depths: [16, 32], secs: 10, warmup: 2, densityMax: 16, densityWindow: 4, agents: 1000, viewers: 1000, whepSecs: 10, lossSecs: 20, bursts: 3 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loco-bench-'));
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
log(`logs in ${dir}`);

const results = {
  meta: { date: new Date().toISOString(), mode: smoke ? 'smoke' : 'full', command: process.env.LOCO_BENCH_COMMAND || `node hack/bench/bench.mjs ${process.argv.slice(2).join(' ')}`.trim(), machine: machine(), plan, logs: dir },
  streams: {}, density: {}, broker: {}, loss: {}, k8s: {},
};
results.meta.load = { start: os.loadavg()[0].toFixed(2) };

const bins = await buildAll(log);
results.meta.components = Object.fromEntries(Object.entries(bins).map(([k, v]) => [k, v.path ? 'built' : v.missing]));
const need = (...names) => { for (const n of names) if (!bins[n].path) throw componentError(bins[n].missing); };
const streamKeys = ['p50', 'p95', 'p99', 'fps', 'mbps', 'serverCpu', 'browserCpu'];
const units = { p50: 'ms', p95: 'ms', p99: 'ms', fps: 'frames/s', mbps: 'Mbit/s', serverCpu: 'core', browserCpu: 'core' };
const asFigures = (f) => Object.fromEntries(streamKeys.map((k) => [k, measured(f[k], units[k], k === 'p50' ? f.detail : undefined)]));

let browser;
try {
  browser = await launch();
  const env = { bins, dir, browser, prefix: [] };
  if (only.has('streams')) {
    for (const scene of plan.scenes) {
      for (const depth of plan.depths) {
        const key = `${scene}/${depth}`;
        const row = (results.streams[key] = {});
        log(`stream ${key}: noVNC`);
        row.novnc = await guard(streamKeys, async () => { need('vncsynth', 'tightproxy'); return asFigures(await runNoVNC(env, { scene, depth, secs: plan.secs, warmup: plan.warmup })); }, log);
        for (const codec of ['vp8', 'h264']) {
          log(`stream ${key}: ${codec}`);
          row[codec] = await guard(streamKeys, async () => { need('vncsynth', 'agent'); return asFigures(await runWebRTC(env, { scene, depth, codec, secs: plan.secs, warmup: plan.warmup })); }, log);
        }
      }
    }
  }
  if (only.has('streams') && !smoke) {
    // Experiment: the agent's frame-rate cap equals the source's 30 frames/s; with a higher cap, is latency lower?
    log('stream town/32: h264 with --fps=60');
    results.pacer = await guard(streamKeys, async () => { need('vncsynth', 'agent'); return asFigures(await runWebRTC(env, { scene: 'town', depth: 32, codec: 'h264', secs: plan.secs, warmup: plan.warmup, agentArgs: ['--fps=60'] })); }, log);
  }
  if (only.has('density')) {
    log('density');
    results.density = await densityFigures(env, plan, need, log);
  }
  if (only.has('loss')) {
    log('loss');
    results.loss = await lossFigures({ bins, dir, prefix: [] }, plan, need, log);
  }
} finally {
  await browser?.close();
}
if (only.has('broker')) {
  log('broker scale');
  results.broker = await brokerFigures({ bins, dir }, plan, need, log);
}
if (only.has('k8s')) {
  log('pod Ready -> SSE event');
  results.k8s = await readyToEvent({ bins, dir }, plan, need, log);
}
await stopAll();
results.meta.load.end = os.loadavg()[0].toFixed(2);

if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(results, null, 2) + '\n');
const md = render(results);
if (opts.out) {
  // A hand-written analysis below the marker survives regeneration (it explains figures; it holds none).
  const file = path.resolve(repoRoot, opts.out);
  const marker = '<!-- analysis: kept by make bench -->';
  let kept = '';
  try { const old = fs.readFileSync(file, 'utf8'); if (old.includes(marker)) kept = old.slice(old.indexOf(marker)); } catch { /* first run */ }
  fs.writeFileSync(file, kept ? `${md}\n${kept}` : md);
}
else process.stdout.write(md);
log('done');
process.exit(0);
