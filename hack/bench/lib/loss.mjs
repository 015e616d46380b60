// Loss: the stream runs inside a network namespace of our own whose loopback traffic goes through loco-netem
// (an iptables NFQUEUE rule; this kernel has no netem qdisc): 5 % loss, 30 ms ± 10 ms delay each way. Measured in the
// browser: the longest freeze (longest time between two newly shown frames) and, after total outages long enough that
// the decoder must get a fresh keyframe, the time from the end of the outage to the first frame painted after it.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { launch } from './browser.mjs';
import { guard, measured, notMeasured } from './figure.mjs';
import { sleep, start, stop } from './proc.mjs';
import { novncSettings, playing, startAgent, startNoVNCServer, startSynth } from './scenarios.mjs';
import { longestGap } from './stats.mjs';
import { readPaintLog } from './synth.mjs';

export const lossPaths = ['novnc', 'vp8', 'h264'];
const outageMs = 300;

/**
 * Diagnostics (WebRTC paths): an init script keeps the page's RTCPeerConnections, and while an outage is measured the
 * page samples its inbound video counters every 20 ms. recovery() turns a timeline into when, after the end of the
 * outage, the first packet arrived, the first NACK and PLI went out, and the first keyframe and frame were decoded.
 * These times are coarse (20 ms sampling, and getStats may answer from a cache a few tens of ms old); they are
 * diagnostics in the JSON (pictureBack.detail.recoveries, .totals) and the log, never figures of the table.
 */
function trackPeerConnections() {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) { const pc = new Native(...args); window.__pcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
  const keys = ['packetsReceived', 'packetsLost', 'nackCount', 'pliCount', 'firCount', 'framesReceived', 'framesDecoded',
    'keyFramesDecoded', 'framesDropped', 'retransmittedPacketsReceived', 'freezeCount'];
  window.__sample = async () => {
    const row = { t: performance.timeOrigin + performance.now() };
    for (const k of keys) row[k] = 0;
    for (const pc of window.__pcs) {
      (await pc.getStats()).forEach((st) => {
        if (st.type !== 'inbound-rtp' || st.kind !== 'video') return;
        for (const k of keys) row[k] += st[k] ?? 0;
      });
    }
    return row;
  };
  window.__timelineStart = () => {
    window.__timeline = [];
    window.__timer = setInterval(async () => { window.__timeline.push(await window.__sample()); }, 20);
  };
  window.__timelineStop = () => { clearInterval(window.__timer); return window.__timeline; };
}

/** recovery summarises a timeline of counters around an outage that ended at `end` (epoch ms). */
function recovery(timeline, end) {
  const before = [...timeline].reverse().find((r) => r.t <= end) ?? timeline[0];
  const after = timeline.filter((r) => r.t > end);
  const first = (k) => { const r = after.find((x) => x[k] > before[k]); return r ? Math.round(r.t - end) : NaN; };
  const last = after.at(-1) ?? before;
  const delta = (k) => last[k] - before[k];
  return {
    packetMs: first('packetsReceived'), nackMs: first('nackCount'), pliMs: first('pliCount'),
    keyframeMs: first('keyFramesDecoded'), frameMs: first('framesDecoded'),
    nacks: delta('nackCount'), plis: delta('pliCount'), keyframes: delta('keyFramesDecoded'),
    retransmitted: delta('retransmittedPacketsReceived'), dropped: delta('framesDropped'),
  };
}

function sh(cmd, args) { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString(); }

async function withNamespace(fn) {
  const ns = `loco-bench-${process.pid}`;
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    return await fn(ns);
  } finally {
    try { sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).forEach((p) => { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }); } catch { /* gone */ }
    try { sh('ip', ['netns', 'del', ns]); } catch { /* gone */ }
  }
}

/**
 * impair queues to loco-netem only the packets between the browser and the server it talks to (both directions of
 * `proto` port `port`), never the VNC link behind the server, which is not part of the network being played.
 */
function impair(ns, on, { proto, port }) {
  for (const dir of ['--sport', '--dport']) {
    sh('ip', ['netns', 'exec', ns, 'iptables', on ? '-I' : '-D', 'OUTPUT', '-p', proto, dir, String(port), '-j', 'NFQUEUE', '--queue-num', '0', '--queue-bypass']);
  }
}

async function measurePath(env, ns, netem, browser, which, plan, log) {
  const prefix = ['ip', 'netns', 'exec', ns];
  const penv = { ...env, prefix, browser };
  const name = `loss-${which}`;
  const synth = await startSynth(penv, { scene: 'town', depth: 16, name });
  const children = [synth.child];
  const page = await browser.ctx.newPage();
  let link;
  try {
    if (which === 'novnc') {
      const srv = await startNoVNCServer(penv, synth, name);
      children.push(srv.ws, srv.tight);
      const { wsPort } = srv;
      link = { proto: 'tcp', port: wsPort };
      await page.goto(`http://127.0.0.1:${wsPort}/__bench/novnc.html`);
      await page.waitForFunction(() => window.pageReady === true);
      await page.evaluate((o) => window.startNoVNC(o), { url: `ws://127.0.0.1:${wsPort}`, ...novncSettings.town });
    } else {
      const agent = await startAgent(penv, { vncPort: synth.port, codec: which, name });
      children.push(agent.child);
      link = { proto: 'udp', port: agent.udp };
      await page.addInitScript(trackPeerConnections);
      await page.goto(`${agent.base}/__bench/webrtc.html`);
      await page.waitForFunction(() => window.pageReady === true);
      await page.evaluate((o) => window.connect(o), { url: '/whep', codec: which });
    }
    await playing(page);
    await sleep(1000);
    impair(ns, true, link);
    try {
      await sleep(1000);
      await page.evaluate(() => window.benchReset());
      const webrtc = which !== 'novnc';
      const totals0 = webrtc ? await page.evaluate(() => window.__sample()) : null;
      await sleep(plan.lossSecs * 1000);
      const steady = await page.evaluate(() => window.bench.samples);
      const ends = [];
      const recoveries = [];
      for (let i = 0; i < plan.bursts; i++) {
        if (webrtc) await page.evaluate(() => window.__timelineStart());
        process.kill(netem.pid, 'SIGUSR1');
        await sleep(outageMs);
        process.kill(netem.pid, 'SIGUSR2');
        const end = Date.now();
        ends.push(end);
        await sleep(2500);
        if (webrtc) recoveries.push({ end: new Date(end).toISOString().slice(11, 23), ...recovery(await page.evaluate(() => window.__timelineStop()), end) });
      }
      const totals1 = webrtc ? await page.evaluate(() => window.__sample()) : null;
      // Under load a picture may take longer than the pause above: wait up to a minute more for every outage's.
      let back = [];
      const deadline = Date.now() + 60000;
      do {
        const all = await page.evaluate(() => window.bench.samples);
        const painted = readPaintLog(synth.paintLog);
        back = ends.map((end) => {
          const first = all.find(([stamp, shown]) => shown > end && (painted.get(stamp) ?? 0) >= end);
          return first ? first[1] - end : NaN;
        });
        if (back.every(Number.isFinite)) break;
        await sleep(500);
      } while (Date.now() < deadline);
      // Which frames were shown in the first 400 ms after each outage: [shown, painted] in ms after its end.
      {
        const all = await page.evaluate(() => window.bench.samples);
        const painted = readPaintLog(synth.paintLog);
        ends.forEach((end, i) => {
          const shown = all.filter(([, at]) => at > end && at < end + 400).map(([stamp, at]) => [Math.round(at - end), Math.round((painted.get(stamp) ?? NaN) - end)]);
          if (recoveries[i]) recoveries[i].shown = shown;
          log(`loss ${which} outage ${i + 1} shown [ms after end, painted ms after end]: ${JSON.stringify(shown)}`);
        });
      }
      log(`loss ${which}: longest freeze ${longestGap(steady).toFixed(0)} ms over ${steady.length} frames; picture back ${back.map((b) => b.toFixed(0)).join(', ')} ms`);
      // Where the time goes after each outage (ms after its end) and the whole run's recovery counters.
      const totals = webrtc ? Object.fromEntries(Object.keys(totals1).filter((k) => k !== 't').map((k) => [k, totals1[k] - totals0[k]])) : undefined;
      for (const { shown, ...r } of recoveries) log(`loss ${which} outage recovery (ms after its end): ${JSON.stringify(r)}`);
      if (totals) log(`loss ${which} totals: ${JSON.stringify(totals)}`);
      return {
        longestFreeze: measured(steady.length > 1 ? longestGap(steady) : NaN, 'ms', { frames: steady.length, secs: plan.lossSecs }),
        pictureBack: back.every(Number.isFinite) ? measured(Math.max(...back), 'ms', { outageMs, each: back, recoveries, totals })
          : notMeasured('no picture within 62.5 s after an outage: the stream did not recover', 'error', { each: back }),
      };
    } finally {
      impair(ns, false, link);
    }
  } finally {
    await page.close().catch(() => {});
    for (const c of children.reverse()) await stop(c);
  }
}

export async function lossFigures(env, plan, need, log) {
  const out = {};
  await withNamespace(async (ns) => {
    need('netem');
    const netem = start(env.bins.netem.path, ['--loss=0.05', '--delay=30ms', '--jitter=10ms'], { logFile: path.join(env.dir, 'netem.log'), prefix: ['ip', 'netns', 'exec', ns] });
    const browser = await launch({ wrapper: ['ip', 'netns', 'exec', ns] });
    try {
      await sleep(300);
      if (netem.exited) throw new Error('loco-netem exited (see netem.log)');
      for (const which of lossPaths) {
        out[which] = await guard(['longestFreeze', 'pictureBack'], async () => {
          need(...(which === 'novnc' ? ['vncsynth', 'tightproxy'] : ['vncsynth', 'agent']));
          return measurePath(env, ns, netem, browser, which, plan, log);
        }, log);
      }
    } finally {
      await browser.close();
      await stop(netem);
    }
  }).catch((err) => {
    for (const which of lossPaths) out[which] ??= { longestFreeze: { missing: String(err.message).slice(0, 200), cause: 'error' }, pictureBack: { missing: String(err.message).slice(0, 200), cause: 'error' } };
  });
  return out;
}
