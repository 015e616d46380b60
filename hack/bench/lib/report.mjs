// Renders the results as docs/benchmarks.md: every figure beside its baseline and the ratio, the machine, the date
// and the command. A figure that was not measured says so, with the reason, in a numbered note.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown CPU';
  const version = (cmd, args) => { try { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n')[0]; } catch { return 'unknown'; } };
  let distro = 'unknown';
  try { distro = /^PRETTY_NAME="?(.*?)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? distro; } catch { /* none */ }
  return {
    cpu: model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), distro,
    chromium: version('/usr/bin/chromium', ['--version']).replace(/\s+built on.*$/, ''), go: version('go', ['version']),
    node: process.version, gstreamer: version('gst-inspect-1.0', ['--version']).replace(/^.*version /, ''),
  };
}

const fmt = {
  ms: (v) => `${v.toFixed(1)} ms`,
  'frames/s': (v) => `${v.toFixed(1)}`,
  'Mbit/s': (v) => `${v.toFixed(3)}`,
  core: (v) => `${(v * 100).toFixed(1)} %`,
  MiB: (v) => `${v.toFixed(1)} MiB`,
  'offers/s': (v) => `${v.toFixed(0)}/s`,
  instances: (v) => `${v}`,
};

class Notes {
  constructor() { this.list = []; }
  ref(reason) {
    let i = this.list.indexOf(reason);
    if (i < 0) { this.list.push(reason); i = this.list.length - 1; }
    return `not measured [${i + 1}]`;
  }
  render() { return this.list.map((r, i) => `${i + 1}. not measured: ${r}`).join('\n'); }
}

function cell(f, notes) {
  if (!f) return notes.ref('not run in this mode');
  if (f.missing) return notes.ref(f.missing);
  return (fmt[f.unit] ?? ((v) => v.toFixed(2)))(f.value);
}

/** ratio of ours to the baseline, when both were measured. */
function ratio(ours, base) {
  if (!ours || !base || ours.missing || base.missing) return '—';
  if (base.value === 0) return ours.value === 0 ? '1.00×' : '∞';
  const q = ours.value / base.value;
  return `${q >= 0.1 || q === 0 ? q.toFixed(2) : q.toPrecision(2)}×`;
}

const streamRows = [
  ['p50', 'latency p50'], ['p95', 'latency p95'], ['p99', 'latency p99'], ['fps', 'frames shown/s'],
  ['mbps', 'bandwidth (Mbit/s)'], ['serverCpu', 'server CPU (agent / Tight encoding + websockify)'], ['browserCpu', 'browser CPU per stream'],
];

const streamTargets = {
  town: { p95: '≤ 20 ms', mbps: '≤ noVNC (~0.5)', serverCpu: '≤ 25 %', browserCpu: '≤ noVNC' },
  still: { p95: '≤ 20 ms', serverCpu: '≤ 2 %' },
  motion: { p95: '≤ 25 ms', mbps: '≤ 1/10 of noVNC', serverCpu: '≤ 25 %' },
};

export function render(r) {
  const notes = new Notes();
  const m = r.meta.machine;
  const out = [];
  out.push('# Benchmarks', '');
  out.push(`Written by \`make bench\` (${r.meta.mode} run) on **${r.meta.date}**.`, '');
  out.push(`- Command: \`${r.meta.command}\``);
  out.push(`- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.distro}, kernel ${m.kernel}; no GPU`);
  if (r.meta.load) out.push(`- Load average (1 min) at the start and the end of the run: ${r.meta.load.start} / ${r.meta.load.end} (other work on the machine shares its 2 cores)`);
  out.push(`- Software: ${m.chromium} (headless, software decoding), ${m.go}, Node ${m.node}, GStreamer ${m.gstreamer}`);
  out.push(`- Programs under test: ${Object.entries(r.meta.components ?? {}).map(([k, v]) => `${k}: ${v === 'built' ? 'built from this tree' : `missing (${v})`}`).join('; ')}`);
  out.push('');
  out.push('Content: the synthetic VNC server (`agent/cmd/loco-vncsynth`) at 800x600, scenes *town* (a still scene with',
    'a few small sprites moving), *motion* (every pixel changes every frame) and *still*, each frame stamped with its',
    'number; the server logs when it painted each stamp. Latency = when Chromium presented the frame',
    '(`requestVideoFrameCallback` presentation time for WebRTC; for noVNC, the time of the first animation-frame callback',
    'that reads it from the canvas) − when it was painted,',
    'both on this machine\'s clock. **Baseline** = noVNC 1.7 (npm `@novnc/novnc`) through `websockify` on the same',
    'content in the same run, with its best settings for the scene (the synthetic server speaks Raw only, so',
    '`loco-tightproxy` in front of it gives noVNC the Tight encoding — JPEG at noVNC\'s quality level, zlib, solid fills —',
    'that a real VNC server gives it); **ratio** = ours ÷ baseline (below 1 is better',
    'for latency, bandwidth and CPU; above 1 is better for frames shown). CPU is a share of one core. Absolute times',
    'are for information: the 2 cores are shared by the VNC server, the agent, websockify and Chromium.', '');

  out.push('## Glass-to-glass latency, frame rate, bandwidth and CPU', '');
  for (const [key, row] of Object.entries(r.streams)) {
    const [scene, depth] = key.split('/');
    const nd = row.novnc?.p50?.detail;
    out.push(`### ${scene}, ${depth}-bit`, '');
    if (scene === 'still') out.push('The still screen changes only where the pointer marker moves: the harness moves the pointer 5 times a second (a second VNC client), so frames shown/s is about 5 by design and latency is that of a small change on a still screen.', '');
    if (nd?.settings) out.push(`noVNC settings: quality ${nd.settings.quality}, compression ${nd.settings.compression}; encodings the server sent: ${(nd.encodings ?? []).join(', ') || 'none seen'}.`, '');
    out.push('| figure | noVNC (baseline) | VP8 | VP8 ÷ noVNC | H.264 | H.264 ÷ noVNC | target |', '|---|---|---|---|---|---|---|');
    for (const [k, label] of streamRows) {
      out.push(`| ${label} | ${cell(row.novnc?.[k], notes)} | ${cell(row.vp8?.[k], notes)} | ${ratio(row.vp8?.[k], row.novnc?.[k])} | ${cell(row.h264?.[k], notes)} | ${ratio(row.h264?.[k], row.novnc?.[k])} | ${streamTargets[scene]?.[k] ?? ''} |`);
    }
    out.push('');
    const parts = ['vp8', 'h264'].map((c) => [c, row[c]?.p50?.detail]).filter(([, d]) => d && d.decodeMs !== undefined);
    if (parts.length) {
      const n = (v) => (Number.isFinite(v) ? v.toFixed(1) : '?');
      out.push(`Where the time goes (information, no baseline): ${parts.map(([c, d]) => `${c === 'h264' ? 'H.264' : 'VP8'}: agent encode ${n(d.agentEncodeMs)} ms/frame, agent input ${n(d.agentVncFps)} updates/s from VNC and ${n(d.agentEncodedFps)} frames/s encoded; browser jitter buffer ${n(d.jitterBufferMs)} ms, decode ${n(d.decodeMs)} ms, first packet to decoded ${n(d.processingMs)} ms per frame`).join('; ')}.`, '');
    }
  }

  if (r.pacer && r.streams['town/32']) {
    const base = r.streams['town/32'];
    out.push('### Experiment: town, 32-bit, H.264 with the agent\'s frame-rate cap at 60 (`--fps=60`)', '',
      'The source paints 30 frames/s; `--fps` caps the frames the agent\'s pacer lets through (default 30) and is the frame',
      'rate the encoder is told. Same run, same content:', '',
      '| figure | noVNC (baseline) | H.264, `--fps=30` (default) | H.264, `--fps=60` | `--fps=60` ÷ noVNC |', '|---|---|---|---|---|');
    for (const [k, label] of streamRows) {
      out.push(`| ${label} | ${cell(base.novnc?.[k], notes)} | ${cell(base.h264?.[k], notes)} | ${cell(r.pacer[k], notes)} | ${ratio(r.pacer[k], base.novnc?.[k])} |`);
    }
    out.push('');
  }

  out.push('## Density', '', 'Instances (each: one agent and its own synthetic VNC server, 16-bit) that all keep ≥ 28 frames/s encoded,',
    'read from each agent\'s `/metrics`, adding one instance at a time. Baseline: the target (9 *town* instances at 30 fps',
    'on 2 cores); no target is stated for *motion*, so the same 9 is used.', '',
    'The last column is the slowest instance\'s encoded frames/s with 1, 2, ... instances running.', '',
    '| scene | codec | instances | baseline | ratio | slowest instance, frames/s |', '|---|---|---|---|---|---|');
  const nine = { value: 9, unit: 'instances' };
  for (const [key, f] of Object.entries(r.density)) {
    const [scene, codec] = key.split('/');
    const capped = f.detail?.capped ? ' (the most tried)' : '';
    const curve = (f.detail?.steps ?? []).map((st) => `${st.n}: ${st.minFps.toFixed(1)}`).join(', ');
    out.push(`| ${scene} | ${codec === 'h264' ? 'H.264' : 'VP8'} | ${cell(f, notes)}${capped} | 9 (target) | ${ratio(f, nine)} | ${curve} |`);
  }
  out.push('');

  out.push('## Broker scale', '');
  const b = r.broker;
  const bd = b.rss?.detail;
  out.push(`${bd ? `${bd.agents} simulated agents attached over real gRPC (\`loco.v1.Broker.Attach\`, a health report each per second) and ${bd.viewers} SSE viewers on \`/api/events\`; WHEP offers POSTed by 16 clients and answered at once by the simulated agents.` : 'Simulated agents attached over real gRPC and SSE viewers on `/api/events`; WHEP offers relayed to the simulated agents.'}`, '');
  out.push('| figure | measured | baseline | ratio |', '|---|---|---|---|');
  out.push(`| broker RSS (peak) | ${cell(b.rss, notes)} | 100 MiB (target: < 100 MB) | ${ratio(b.rss, { value: 100 })} |`);
  if (bd?.rssAgentsOnlyMiB !== undefined) out.push(`| broker RSS with the agents attached, before the viewers | ${bd.rssAgentsOnlyMiB.toFixed(1)} MiB | 100 MiB | ${(bd.rssAgentsOnlyMiB / 100).toFixed(2)}× |`);
  if (bd?.sseEventsPerSec !== undefined) out.push(`| SSE events delivered to the viewers, steady | ${bd.sseEventsPerSec.toFixed(0)}/s | no stated baseline | — |`);
  out.push(`| broker CPU, steady (health + SSE) | ${cell(b.cpu, notes)} | no stated baseline | — |`);
  out.push(`| WHEP offers relayed | ${cell(b.whepPerSec, notes)} | no stated baseline | — |`);
  out.push(`| pod Ready → SSE event, p50 | ${cell(r.k8s.p50, notes)} | 1,000 ms ("within a second", ARCHITECTURE.md) | ${ratio(r.k8s.p50, { value: 1000 })} |`);
  out.push(`| pod Ready → SSE event, max | ${cell(r.k8s.max, notes)} | 1,000 ms | ${ratio(r.k8s.max, { value: 1000 })} |`);
  out.push('');

  out.push('## Loss', '', 'Inside a network namespace of the harness, the packets between Chromium and the server it talks to (the agent\'s',
    'ICE UDP port; websockify\'s TCP port for noVNC) pass through `loco-netem` (iptables NFQUEUE; this kernel has no `netem`',
    'qdisc): 5 % loss and 30 ms ± 10 ms delay each way (the jitter reorders packets, as netem does); *town* scene, 16-bit; the',
    'VNC link behind the server is not impaired. Measured over 20 s after 1 s under impairment. Longest freeze = the',
    'longest time between two newly shown frames; picture back = from the end of a 300 ms total outage (long enough to',
    'lose whole frames, so a decoder needs a fresh keyframe) to the first shown frame painted after it, worst of the outages.', '',
    '| figure | noVNC (baseline, TCP) | VP8 | VP8 ÷ noVNC | H.264 | H.264 ÷ noVNC | target |', '|---|---|---|---|---|---|---|');
  const L = r.loss;
  for (const [k, label, target] of [['longestFreeze', 'longest freeze', ''], ['pictureBack', 'picture back after an outage', '< 200 ms']]) {
    out.push(`| ${label} | ${cell(L.novnc?.[k], notes)} | ${cell(L.vp8?.[k], notes)} | ${ratio(L.vp8?.[k], L.novnc?.[k])} | ${cell(L.h264?.[k], notes)} | ${ratio(L.h264?.[k], L.novnc?.[k])} | ${target} |`);
  }
  out.push('');
  if (notes.list.length) out.push('## Not measured', '', notes.render(), '');
  return out.join('\n');
}
