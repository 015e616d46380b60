// measure.mjs: figures for the web UI on this machine, against the same real cluster the e2e tests use
// (9 instances, loco-vncsynth town scene 640x480 at 10 fps, real agents and broker):
//   - time from page load to nine playing tiles (every tile has presented a frame), median of RUNS loads;
//   - browser CPU (all Chromium processes, % of one core) while the 9-tile grid plays, over CPU_SECONDS;
//   - memory over SOAK_MINUTES of playing: JS heap after a forced GC, DOM nodes, event listeners, start and end.
// Usage: cd web && node e2e/measure.mjs [runs=5] [cpuSeconds=20] [soakMinutes=0]   (run `make web` first)
import { readFileSync, readdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { buildBinaries, chromiumArgs, chromiumPath, sleep, startCluster, waitFor } from "./cluster.mjs";
import { allTilesPlaying } from "./page.mjs";

const runs = Number(process.argv[2] ?? 5);
const cpuSeconds = Number(process.argv[3] ?? 20);
const soakMinutes = Number(process.argv[4] ?? 0);

async function memory(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  await cdp.send("HeapProfiler.collectGarbage");
  const { metrics } = await cdp.send("Performance.getMetrics");
  await cdp.detach();
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { heapMB: (m.JSHeapUsedSize / 1048576).toFixed(1), nodes: m.Nodes, listeners: m.JSEventListeners };
}
const HZ = 100; // USER_HZ on Linux

function tree(root) {
  const kids = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {
      // process gone
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(root);
  return out;
}

function kind(pid) {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return /--type=([a-z-]+)/.exec(cmd)?.[1] ?? "browser";
  } catch {
    return "gone";
  }
}

/** ticks returns utime+stime per pid of the tree. */
function ticks(pids) {
  const m = new Map();
  for (const p of pids) {
    try {
      const st = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      m.set(p, { kind: kind(p), t: Number(f[11]) + Number(f[12]) });
    } catch {
      // exited
    }
  }
  return m;
}

/** cpuOver samples the browser's process tree twice and returns % of one core, total and per process type. */
async function cpuOver(rootPid, seconds) {
  const a = ticks(tree(rootPid));
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const b = ticks(tree(rootPid));
  const secs = (Date.now() - t0) / 1000;
  const byKind = {};
  let total = 0;
  for (const [pid, v] of b) {
    const d = v.t - (a.get(pid)?.t ?? 0);
    byKind[v.kind] = (byKind[v.kind] ?? 0) + d;
    total += d;
  }
  const pct = (x) => ((x / HZ / secs) * 100).toFixed(0);
  return { total: pct(total), parts: Object.entries(byKind).map(([k, v]) => `${k} ${pct(v)} %`).join(", ") };
}

const cluster = await startCluster(buildBinaries(), { n: 9, fps: 10, width: 640, height: 480 });
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs() });
try {
  // Agents attached and serving before timing starts.
  await waitFor(
    "9 healthy instances",
    async () => {
      const r = await (await fetch(`${cluster.url}/api/instances`)).json();
      return r.instances.filter((i) => i.state === "INSTANCE_STATE_HEALTHY").length === 9;
    },
    60000,
  );
  const times = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const t0 = Date.now();
    await page.goto(cluster.url);
    await waitFor("9 playing tiles", () => page.evaluate(allTilesPlaying, 9), 60000, 50);
    times.push(Date.now() - t0);
    if (i < runs - 1) {
      await ctx.close();
      await sleep(1000);
    } else {
      // Keep the last page playing for the CPU figure.
      await sleep(3000);
      const cpu = await cpuOver(browser.process?.()?.pid ?? 0, cpuSeconds);
      const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
      if (soakMinutes > 0) {
        const m0 = await memory(page);
        await sleep(soakMinutes * 60000);
        const m1 = await memory(page);
        console.log(
          `memory over ${soakMinutes} min of playing: JS heap ${m0.heapMB} -> ${m1.heapMB} MB, ` +
            `DOM nodes ${m0.nodes} -> ${m1.nodes}, listeners ${m0.listeners} -> ${m1.listeners}`,
        );
      }
      const fps = await page.$$eval('[data-testid="tile"] video', (vs) => vs.map((v) => Number(v.dataset.fps ?? 0)));
      console.log(
        `browser CPU, 9-tile grid playing: ${cpu.total} % of one core over ${cpuSeconds} s (${cpu.parts}; ` +
          `tile fps: ${fps.join(" ")}; machine load average ${load})`,
      );
    }
  }
  const sorted = [...times].sort((x, y) => x - y);
  console.log(`page load -> 9 playing tiles: median ${sorted[Math.floor(sorted.length / 2)]} ms of ${runs} (${times.join(", ")} ms)`);
} finally {
  await browser.close();
  await cluster.stop();
}
