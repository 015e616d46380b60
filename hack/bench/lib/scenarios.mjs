// One measured stream: the synthetic VNC server showing a scene, watched either through websockify + noVNC (the
// baseline) or through the agent's WebRTC (WHEP) in Chromium; latency, frames shown, bytes and CPU over a window.
import fs from 'node:fs';
import path from 'node:path';
import { CpuMeter, descendants, freePort, freeUDPPort, sleep, start, stop, tcpReadyIn, waitFor } from './proc.mjs';
import { browserPids } from './browser.mjs';
import { latencyFigures } from './stats.mjs';
import { readPaintLog, synthArgs } from './synth.mjs';
import { pointerPoker } from './rfbpoke.mjs';

/** noVNC's best settings per scene: JPEG quality and zlib level it asks the server for (Tight/ZRLE picked by noVNC). */
export const novncSettings = {
  town: { quality: 6, compression: 2 }, // noVNC's own defaults: good picture, small changes compress well
  still: { quality: 6, compression: 2 },
  motion: { quality: 2, compression: 1 }, // low JPEG quality, light zlib: the fastest Tight gets on full motion
};

/** startSynth starts the synthetic VNC server; returns {child, port, paintLog}. */
export async function startSynth(env, { scene, depth, name }) {
  const port = await freePort();
  const paintLog = path.join(env.dir, `${name}.paint.log`);
  fs.rmSync(paintLog, { force: true }); // the server appends: a reused name must not mix two runs' stamps
  const child = start(env.bins.vncsynth.path, synthArgs({ listen: `127.0.0.1:${port}`, scene, depth, paintLog }),
    { logFile: path.join(env.dir, `${name}.synth.log`), prefix: env.prefix });
  await tcpReadyIn(env.prefix, port);
  // A still screen is painted (and stamped) only when something changes: move the pointer 5 times a second.
  const stopPoker = scene === 'still' ? await pointerPoker(port, 200) : () => {};
  const done = child.done.then(() => stopPoker());
  return { child, port, paintLog, stopPoker, done };
}

/** startAgent starts loco-agent attached to a VNC server, serving WHEP itself. */
export async function startAgent(env, { vncPort, codec, name, extra = [] }) {
  const http = await freePort();
  const grpcPort = await freePort();
  const udp = await freeUDPPort();
  const child = start(env.bins.agent.path, [
    `--instance-id=${name}`, `--vnc=127.0.0.1:${vncPort}`, '--direct-whep', `--codec=${codec}`,
    `--http-listen=127.0.0.1:${http}`, `--grpc-listen=127.0.0.1:${grpcPort}`, '--audio=off',
    `--ice-udp-port=${udp}`, '--ice-tcp-port=0', '--allow-loopback', ...extra,
  ], { logFile: path.join(env.dir, `${name}.agent.log`), prefix: env.prefix });
  await waitFor(`${name} /healthz`, async () => {
    if (child.exited) throw new Error(`loco-agent exited (see ${name}.agent.log)`);
    return tcpReadyIn(env.prefix, http, 1000).then(() => true, () => false);
  }, 120000);
  return { child, http, udp, base: `http://127.0.0.1:${http}` };
}

/**
 * playing waits until the page has shown a frame whose stamp it read: the warm-up and the window then measure a
 * stream that plays, however long a loaded machine took to connect (the smoke run's windows are 1-2 s).
 */
export async function playing(page) {
  await waitFor('the first frame with a readable stamp', () => page.evaluate(() => window.bench.samples.length > 0), 120000, 100);
}

async function measureWindow(env, page, pids, secs) {
  // websockify serves each connection from a forked process: count every descendant.
  const serverCpu = new CpuMeter(() => pids.flatMap((p) => descendants(p)));
  const browserCpu = new CpuMeter(() => browserPids(env.browser.userDataDir));
  await page.evaluate(() => window.benchReset());
  const before = await page.evaluate(() => (window.stats ? window.stats() : null));
  serverCpu.begin();
  browserCpu.begin();
  const t0 = Date.now();
  await sleep(secs * 1000);
  const bench = await page.evaluate(() => ({ ...window.bench }));
  const after = await page.evaluate(() => (window.stats ? window.stats() : null));
  const windowSecs = (Date.now() - t0) / 1000;
  return { bench, before, after, windowSecs, serverCpu: serverCpu.end(), browserCpu: browserCpu.end() };
}

function figures(m, paintLog, bytes) {
  const painted = readPaintLog(paintLog);
  const lat = latencyFigures(m.bench.samples, painted, m.windowSecs);
  return {
    p50: lat.p50, p95: lat.p95, p99: lat.p99, fps: lat.framesShownPerSec,
    mbps: (bytes * 8) / m.windowSecs / 1e6,
    serverCpu: m.serverCpu, browserCpu: m.browserCpu,
    detail: { matched: lat.matched, unmatched: lat.unmatched, undecoded: m.bench.undecoded, ticks: m.bench.ticks,
      errors: m.bench.errors },
  };
}

/**
 * startNoVNCServer puts what noVNC talks to in front of a synthetic server: loco-tightproxy (the Tight encoding a
 * real VNC server gives noVNC; the synthetic one speaks Raw only) and websockify.
 */
export async function startNoVNCServer(env, synth, name) {
  const tightPort = await freePort();
  const tight = start(env.bins.tightproxy.path, [`--listen=127.0.0.1:${tightPort}`, `--upstream=127.0.0.1:${synth.port}`],
    { logFile: path.join(env.dir, `${name}.tightproxy.log`), prefix: env.prefix });
  const wsPort = await freePort();
  const ws = start('websockify', [`127.0.0.1:${wsPort}`, `127.0.0.1:${tightPort}`],
    { logFile: path.join(env.dir, `${name}.websockify.log`), prefix: env.prefix });
  await tcpReadyIn(env.prefix, tightPort);
  await tcpReadyIn(env.prefix, wsPort);
  return { tight, ws, wsPort, stop: async () => { await stop(ws); await stop(tight); } };
}

/** runNoVNC measures noVNC through websockify on one scene. */
export async function runNoVNC(env, { scene, depth, secs, warmup = 1 }) {
  const name = `novnc-${scene}-${depth}`;
  const synth = await startSynth(env, { scene, depth, name });
  const srv = await startNoVNCServer(env, synth, name);
  const { wsPort } = srv;
  const page = await env.browser.ctx.newPage();
  try {
    await page.goto(`http://127.0.0.1:${wsPort}/__bench/novnc.html`);
    await page.waitForFunction(() => window.pageReady === true);
    const s = novncSettings[scene];
    await page.evaluate((o) => window.startNoVNC(o), { url: `ws://127.0.0.1:${wsPort}`, ...s });
    await playing(page);
    await sleep(warmup * 1000);
    // Server side of the baseline: websockify plus the Tight encoding (which a real VNC server does itself).
    const m = await measureWindow(env, page, [srv.ws.pid, srv.tight.pid], secs);
    const f = figures(m, synth.paintLog, m.bench.wsBytes);
    f.detail.encodings = await page.evaluate(() => [...(window.encodingsSeen ?? [])]);
    f.detail.settings = s;
    return f;
  } finally {
    await page.close().catch(() => {});
    await srv.stop();
    await stop(synth.child);
  }
}

/** runWebRTC measures the agent's WebRTC stream (WHEP straight to the agent) on one scene with one codec. */
export async function runWebRTC(env, { scene, depth, codec, secs, warmup = 2, agentArgs = [] }) {
  const name = `${codec}-${scene}-${depth}`;
  const synth = await startSynth(env, { scene, depth, name });
  let agent;
  const page = await env.browser.ctx.newPage();
  try {
    agent = await startAgent(env, { vncPort: synth.port, codec, name, extra: agentArgs });
    await page.goto(`${agent.base}/__bench/webrtc.html`);
    await page.waitForFunction(() => window.pageReady === true);
    await page.evaluate((o) => window.connect(o), { url: '/whep', codec });
    await playing(page);
    await sleep(warmup * 1000);
    const m = await measureWindow(env, page, [agent.child.pid], secs);
    const f = figures(m, synth.paintLog, m.after.transportBytes - m.before.transportBytes);
    f.detail.codec = m.after.codec;
    // Where the time goes: the agent's own encode time and input rate, the browser's jitter buffer and decode.
    const d = (k) => m.after[k] - m.before[k];
    const frames = d('jitterBufferEmittedCount');
    f.detail.jitterBufferMs = frames > 0 ? (d('jitterBufferDelay') / frames) * 1000 : NaN;
    const decoded = d('framesDecoded');
    f.detail.decodeMs = decoded > 0 ? (d('totalDecodeTime') / decoded) * 1000 : NaN;
    f.detail.processingMs = decoded > 0 ? (d('totalProcessingDelay') / decoded) * 1000 : NaN;
    try {
      const text = await (await fetch(`${agent.base}/metrics`)).text();
      const metric = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      f.detail.agentEncodeMs = metric('loco_agent_encode_ms_mean');
      f.detail.agentVncFps = metric('loco_agent_vnc_fps');
      f.detail.agentEncodedFps = metric('loco_agent_encoded_fps');
    } catch { /* the figures above stand without it */ }
    f.detail.pli = m.after.pliCount - m.before.pliCount;
    f.detail.framesDecoded = m.after.framesDecoded - m.before.framesDecoded;
    return f;
  } finally {
    await page.close().catch(() => {});
    if (agent) await stop(agent.child);
    await stop(synth.child);
  }
}
