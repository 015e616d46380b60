// Headless Debian Chromium driven by playwright-core, and the small HTTP server that serves the benchmark pages.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { descendants } from './proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const roots = [
  ['/__bench/novnc/', path.join(here, '..', 'node_modules', '@novnc', 'novnc') + '/'],
  ['/__bench/', path.join(here, '..', 'pages') + '/'],
];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json' };

/**
 * routePages makes every URL whose path starts with /__bench/ answer from pages/ (and /__bench/novnc/ from the noVNC
 * package) inside the browser, on any origin: a page can then live on the origin of the server it measures (same
 * origin, no CORS), and it works in a network namespace where no page server is reachable.
 */
export async function routePages(ctx) {
  await ctx.route((url) => url.pathname.startsWith('/__bench/'), async (route) => {
    const { pathname } = new URL(route.request().url());
    const [prefix, dir] = roots.find(([p]) => pathname.startsWith(p));
    const file = path.normalize(path.join(dir, pathname.slice(prefix.length)));
    if (!file.startsWith(dir) || !fs.existsSync(file)) { await route.fulfill({ status: 404, body: 'not found' }); return; }
    await route.fulfill({ status: 200, contentType: types[path.extname(file)] ?? 'application/octet-stream', body: fs.readFileSync(file) });
  });
}

/** Flags from TESTING.md; both loopback flags are needed for ICE on 127.0.0.1. */
export const chromiumFlags = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection',
  // Pages fulfilled by routePages have no network address of their own, so Chromium's Local Network Access checks
  // would block their WebSocket to 127.0.0.1: turned off along with the mDNS hiding of ICE candidates.
  '--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests',
  // A hidden page must not be throttled: the measurement runs in the background.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export const chromiumPath = process.env.LOCO_BENCH_CHROMIUM || '/usr/bin/chromium';

/**
 * launch starts Chromium with a fresh profile. `wrapper` (e.g. ['ip','netns','exec','x']) runs it elsewhere.
 * Returns the persistent context and a function listing the browser's process ids.
 */
export async function launch({ wrapper } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loco-bench-chromium-'));
  let executablePath = chromiumPath;
  if (wrapper) {
    executablePath = path.join(userDataDir, 'chromium-wrapped.sh');
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ${wrapper.join(' ')} ${chromiumPath} "$@"\n`, { mode: 0o755 });
  }
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: chromiumFlags,
    ignoreDefaultArgs: ['--enable-automation'],
    viewport: { width: 820, height: 620 },
  });
  await routePages(ctx);
  const close = async () => {
    await ctx.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { ctx, close, userDataDir };
}

/** browserPids lists the processes of the Chromium that uses userDataDir. */
export function browserPids(userDataDir) {
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(userDataDir) || (cmd.includes('chromium') && cmd.includes(path.basename(userDataDir)))) pids.push(Number(d));
    } catch { /* exited */ }
  }
  return [...new Set(pids.flatMap((p) => descendants(p)))];
}
