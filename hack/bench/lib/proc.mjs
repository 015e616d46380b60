// Processes the harness starts, free ports, and CPU/RSS read from /proc.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';

const CLK_TCK = 100; // Linux USER_HZ on every Debian kernel.

/** freePort returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** freeUDPPort returns a UDP port that was free on 127.0.0.1 a moment ago (a TCP-free port may be taken for UDP). */
export function freeUDPPort() {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.unref();
    sock.on('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/** Every process started with start() is killed by stopAll() (and on exit). */
const started = new Set();

/**
 * start runs a command in the background with its output in logFile, and returns the child with a `done` promise.
 * `prefix` (e.g. ['ip', 'netns', 'exec', 'ns']) runs it somewhere else.
 */
export function start(cmd, args, { logFile, env, prefix = [] } = {}) {
  const argv = [...prefix, cmd, ...args];
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env },
    detached: true, // own process group, so stop() also ends its children
  });
  if (typeof out === 'number') fs.closeSync(out);
  started.add(child);
  child.argv = argv;
  child.exited = false;
  child.done = new Promise((resolve) => {
    child.on('exit', (code, signal) => { child.exited = true; started.delete(child); resolve({ code, signal }); });
    child.on('error', (err) => { child.exited = true; started.delete(child); child.startError = err; resolve({ code: -1, err }); });
  });
  return child;
}

/** stop ends one child's process group (SIGTERM, then SIGKILL after graceMs). */
export async function stop(child, graceMs = 3000) {
  if (!child || child.exited) return;
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
  await child.done;
  clearTimeout(t);
}

export async function stopAll() {
  await Promise.all([...started].map((c) => stop(c)));
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { stopAll().finally(() => process.exit(130)); });
}
process.on('exit', () => {
  for (const c of started) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } }
});

/** cpuSeconds returns user+system CPU seconds used so far by pid (0 when it is gone). */
export function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm) ": state=0 ... utime=11 stime=12 (0-based in this slice)
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** rssBytes returns the resident set size of pid. */
export function rssBytes(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** descendants returns pid and every live process below it. */
export function descendants(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* raced with exit */ }
  }
  const out = [];
  const walk = (p) => { out.push(p); for (const c of children.get(p) || []) walk(c); };
  walk(pid);
  return out;
}

/**
 * CpuMeter measures the CPU used by a set of processes over a window, as a fraction of one core.
 * The set is re-read at each sample (a browser starts renderer processes as it goes); a process that exits in
 * the window loses its last share, which only makes figures smaller, never invented.
 */
export class CpuMeter {
  constructor(pidsFn) { this.pidsFn = pidsFn; }
  begin() {
    this.t0 = process.hrtime.bigint();
    this.base = new Map(this.pidsFn().map((p) => [p, cpuSeconds(p)]));
  }
  /** end returns CPU used since begin() as a fraction of one core (1.0 = a whole core). */
  end() {
    const secs = Number(process.hrtime.bigint() - this.t0) / 1e9;
    let used = 0;
    for (const p of this.pidsFn()) used += cpuSeconds(p) - (this.base.get(p) ?? 0);
    return secs > 0 ? used / secs : 0;
  }
}

/** waitFor polls fn until it returns a truthy value or timeoutMs passes. */
export async function waitFor(what, fn, timeoutMs = 15000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { lastErr = err; }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** tcpReady resolves when something accepts on host:port. */
export function tcpReady(port, host = '127.0.0.1', timeoutMs = 15000) {
  return waitFor(`${host}:${port}`, () => new Promise((resolve) => {
    const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), timeoutMs);
}

/** tcpReadyIn is tcpReady run where `prefix` runs programs (e.g. inside a network namespace); [] = here. */
export function tcpReadyIn(prefix, port, timeoutMs = 15000) {
  if (!prefix || prefix.length === 0) return tcpReady(port, '127.0.0.1', timeoutMs);
  return waitFor(`127.0.0.1:${port} (${prefix.join(' ')})`, () => new Promise((resolve) => {
    const c = spawn(prefix[0], [...prefix.slice(1), 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code === 0));
    c.on('error', () => resolve(false));
  }), timeoutMs, 200);
}
