// A real Loco cluster on loopback for the browser tests: N synthetic VNC servers (loco-vncsynth), one
// loco-agent per server attached to it, and a loco-broker with static discovery serving the embedded UI; or, with
// the profile option, N loco-agents that each supervise their own PulseAudio and QEMU running the demo guest.
// Every process gets free ports, logs to e2e/out/logs/, and is killed by stop().
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, createWriteStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, "..", "..");
export const outDir = join(here, "out");
const cache = process.env.LOCO_CACHE ?? join(process.env.HOME ?? "/root", ".cache", "loco");
const binDir = join(cache, "e2e-bin");

/**
 * buildBinaries builds loco-broker, loco-agent and loco-vncsynth (incremental: Go's build cache) from this
 * repository, or from LOCO_E2E_SRC (another checkout, e.g. `git archive HEAD` while the work tree is mid-edit).
 * The broker embeds broker/internal/webui/dist of that tree: run `make web` first.
 */
export function buildBinaries() {
  const src = process.env.LOCO_E2E_SRC ?? repo;
  mkdirSync(binDir, { recursive: true });
  const build = (mod, pkg) =>
    execFileSync("go", ["build", "-o", binDir + "/", pkg], {
      cwd: join(src, mod),
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, CGO_ENABLED: "1" },
    });
  build("broker", "./cmd/loco-broker");
  build("agent", "./cmd/loco-vncsynth");
  build("agent", "./cmd/loco-agent");
  return {
    broker: join(binDir, "loco-broker"),
    agent: join(binDir, "loco-agent"),
    vncsynth: join(binDir, "loco-vncsynth"),
  };
}

/**
 * buildGuest builds the demo guest with hack/guest/build when the cache lacks the current one (as `make run`
 * does) and returns its directory (vmlinuz, initrd.gz, cmdline) for the agents' --guest-dir.
 */
export function buildGuest() {
  const src = process.env.LOCO_E2E_SRC ?? repo;
  const out = execFileSync(join(src, "hack", "guest", "build"), [], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  return out.trim().split("\n").pop();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * waitFor polls fn until it returns a truthy value or the timeout passes. On a timeout, describe (if given) is
 * awaited and its result put into the error, so a failure in CI says what the page looked like.
 */
export async function waitFor(what, fn, timeoutMs = 30000, everyMs = 250, describe) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  let state = "";
  if (describe) {
    try {
      state = `; state: ${JSON.stringify(await describe())}`;
    } catch (e) {
      state = `; state unavailable: ${e.message}`;
    }
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}${state}`);
}

/** hueOf is the hue (degrees) vncsynth derives from a label: FNV-1a 32 of the label, modulo 360. */
function hueOf(label) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(label)) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 360;
}

/** labelColour is vncsynth's band colour for a label, as [r, g, b]. */
export function labelColour(label) {
  const hue = hueOf(label) / 60;
  const m2 = hue - 2 * Math.trunc(hue / 2);
  const x = 1 - Math.abs(m2 - 1);
  let r = 0, g = 0, b = 0;
  switch (Math.trunc(hue)) {
    case 0: r = 1; g = x; break;
    case 1: r = x; g = 1; break;
    case 2: g = 1; b = x; break;
    case 3: g = x; b = 1; break;
    case 4: r = x; b = 1; break;
    default: r = 1; b = x;
  }
  const u8 = (v) => Math.trunc(60 + 195 * v) & 0xff;
  return [u8(r), u8(g), u8(b)];
}

/** distinctLabels picks n labels whose band hues are at least minDeg apart (so tiles are told apart by colour). */
export function distinctLabels(n, prefix = "loco", minDeg = 24) {
  const out = [];
  const hues = [];
  for (let i = 0; out.length < n && i < 10000; i++) {
    const l = `${prefix}-${i}`;
    const h = hueOf(l);
    if (hues.every((o) => Math.min(Math.abs(o - h), 360 - Math.abs(o - h)) >= minDeg)) {
      out.push(l);
      hues.push(h);
    }
  }
  if (out.length < n) throw new Error("could not pick distinct labels");
  return out;
}

class Proc {
  /**
   * opts: env (added to this process's environment, or the whole environment without inheritEnv), stdin, and
   * graceMs (how long kill waits after SIGTERM before SIGKILL).
   */
  constructor(name, bin, args, logDir, { env, stdin = "ignore", inheritEnv = true, graceMs = 5000 } = {}) {
    this.name = name;
    this.bin = bin;
    this.args = args;
    this.logDir = logDir;
    this.env = inheritEnv ? { ...process.env, ...env } : env;
    this.stdin = stdin;
    this.graceMs = graceMs;
    this.start();
  }
  start() {
    const log = createWriteStream(join(this.logDir, `${this.name}.log`), { flags: "a" });
    // setpriv (util-linux) gives the process a parent-death signal before it execs: a test runner killed hard
    // (a timeout, Ctrl+C) leaves no broker, agent, PulseAudio or pacat behind.
    this.child = spawn("setpriv", ["--pdeathsig", "KILL", this.bin, ...this.args], {
      stdio: [this.stdin, "pipe", "pipe"],
      env: this.env,
    });
    this.child.stdout.pipe(log);
    this.child.stderr.pipe(log);
    this.exitStatus = null;
    this.exited = new Promise((r) =>
      this.child.once("exit", (code, signal) => {
        this.exitStatus = signal ?? code;
        r();
      }),
    );
  }
  async kill(signal = "SIGTERM") {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill("SIGKILL"), this.graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * startPulse starts a private PulseAudio daemon the way the agent's package pulse does (agent/internal/pulse): its
 * own runtime directory under a fresh temp folder, `-n` so no default.pa loads (no module-suspend-on-idle, which
 * would suspend the idle null sink and leave its monitor silent), a null sink "loco" and an anonymous native
 * socket. It never touches a user's default server. Resolves once the socket accepts connections.
 */
async function startPulse(name, logDir) {
  const dir = mkdtempSync(join(tmpdir(), "loco-pa-"));
  const socket = join(dir, "native");
  const proc = new Proc(name, "pulseaudio", [
    "-n", "--daemonize=no", "--system=no", "--use-pid-file=no", "--exit-idle-time=-1", "--disallow-exit",
    "--log-target=stderr", "--log-level=notice",
    "-L", "module-null-sink sink_name=loco rate=48000 channels=2",
    "-L", `module-native-protocol-unix socket=${socket} auth-anonymous=1`,
  ], logDir, {
    inheritEnv: false,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_RUNTIME_DIR: dir,
      XDG_CONFIG_HOME: join(dir, "config"),
      PULSE_RUNTIME_PATH: join(dir, "runtime"),
      PULSE_STATE_PATH: join(dir, "state"),
      DBUS_SESSION_BUS_ADDRESS: "disabled:",
    },
  });
  const accepts = () =>
    new Promise((resolve) => {
      const c = connect(socket);
      c.once("connect", () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    });
  try {
    await waitFor(`${name} socket`, async () => {
      if (proc.exitStatus !== null) throw new Error(`pulseaudio exited (${proc.exitStatus}), see ${logDir}/${name}.log`);
      return accepts();
    }, 90000, 100);
  } catch (e) {
    await proc.kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { proc, dir, server: `unix:${socket}`, sink: "loco", monitor: "loco.monitor" };
}

/**
 * startCluster starts n instances. Options: fps (VNC paint rate and agent cap), width, height, codec, and audio:
 * the indexes of the instances that get a private PulseAudio (startPulse) whose null sink's monitor their agent
 * records and streams as Opus (`true` for all; the others run with `--audio off`). Play into an instance's sink with
 * playTone. Returns { url, instances: [{id, label, events, pulse?}], procs, playTone(), stop() }.
 *
 * With profile ("demo"), there is no vncsynth: each agent supervises its own PulseAudio and QEMU (accel, default
 * auto: TCG here) running the demo guest from guestDir (default: buildGuest()), as `make run` does, with its
 * sockets in a fresh short state directory (instance.stateDir); width, height, scene and audio do not apply (the
 * agent records its own PulseAudio). stop() then also reports (and kills) any process still naming a state
 * directory after its agent has gone: { survivors: ["pid comm"] }.
 */
export async function startCluster(
  bins,
  {
    n = 9, fps = 10, width = 640, height = 480, codec, scene = "town", audio = [],
    profile, guestDir, accel = "auto",
  } = {},
) {
  const runId = createHash("sha1").update(String(process.pid) + Date.now()).digest("hex").slice(0, 6);
  const logDir = join(outDir, "logs", runId);
  mkdirSync(logDir, { recursive: true });
  const procs = [];
  const labels = distinctLabels(n);
  const instances = [];
  const stateDirs = [];
  if (profile) {
    if (profile === "demo") guestDir ??= buildGuest();
    // Short: QEMU's VNC and QMP unix sockets live in it (108 bytes at most for a socket path).
    for (const label of labels) {
      const stateDir = mkdtempSync(join("/tmp", "loco-e2e-"));
      stateDirs.push(stateDir);
      instances.push({ id: label, label, stateDir });
    }
  }
  for (const label of profile ? [] : labels) {
    const vnc = await freePort();
    const ev = await freePort();
    procs.push(
      new Proc(`vncsynth-${label}`, bins.vncsynth, [
        "--listen", `127.0.0.1:${vnc}`,
        "--label", label,
        "--scene", scene,
        "--fps", String(fps),
        "--width", String(width),
        "--height", String(height),
        "--events-http", `127.0.0.1:${ev}`,
        "--events-stdout=false",
      ], logDir),
    );
    instances.push({ id: label, label, vnc, events: `http://127.0.0.1:${ev}` });
  }
  const http = await freePort();
  const grpc = await freePort();
  const brokerArgs = [
    "--http-listen", `127.0.0.1:${http}`,
    "--grpc-listen", `127.0.0.1:${grpc}`,
    "--instances", labels.join(","),
    "--recover", "off",
  ];
  const broker = new Proc("broker", bins.broker, brokerArgs, logDir);
  procs.push(broker);
  const url = `http://127.0.0.1:${http}`;
  // Bounds on this shared machine are generous (load averages of 30 happen); each wait returns once it holds.
  await waitFor("broker /healthz", async () => (await fetch(`${url}/healthz`)).ok, 90000);
  const pulses = [];
  try {
    for (const [k, inst] of instances.entries()) {
      if (profile || (audio !== true && !audio.includes(k))) continue;
      inst.pulse = await startPulse(`pulse-${inst.id}`, logDir);
      pulses.push(inst.pulse);
      procs.push(inst.pulse.proc);
    }
  } catch (e) {
    await Promise.all(procs.map((p) => p.kill()));
    for (const pa of pulses) rmSync(pa.dir, { recursive: true, force: true });
    throw e;
  }
  for (const inst of instances) {
    const args = [
      "--instance-id", inst.id,
      "--broker", `127.0.0.1:${grpc}`,
      ...(profile
        ? ["--profile", profile, "--state-dir", inst.stateDir, "--accel", accel, ...(guestDir ? ["--guest-dir", guestDir] : [])]
        : ["--vnc", `127.0.0.1:${inst.vnc}`]),
      "--http-listen", `127.0.0.1:${await freePort()}`,
      "--grpc-listen", `127.0.0.1:${await freePort()}`,
      // The kernel picks the ICE port: a port found free for TCP may be taken for UDP (an agent that cannot
      // bind it exits, and its tile never plays).
      "--ice-udp-port", "0",
      "--ice-tcp-port", "0",
      "--allow-loopback",
      "--fps", String(fps),
    ];
    // pulsesrc finds the instance's own daemon through PULSE_SERVER (an empty server means the default one). A
    // supervising agent records the PulseAudio it started (--audio auto).
    if (!profile) args.push("--audio", inst.pulse ? inst.pulse.monitor : "off");
    if (codec) args.push("--codec", codec);
    const env = inst.pulse ? { PULSE_SERVER: inst.pulse.server } : undefined;
    // A supervising agent powers its guest down over QMP before it exits (hack/run allows 30 s).
    inst.agent = new Proc(`agent-${inst.id}`, bins.agent, args, logDir, { env, graceMs: profile ? 30000 : 5000 });
    procs.push(inst.agent);
  }
  return {
    url,
    logDir,
    instances,
    broker,
    procs,
    /** restartBroker stops the broker and starts it again, with another static instance list when ids is given. */
    async restartBroker(ids) {
      await broker.kill();
      if (ids) broker.args[broker.args.indexOf("--instances") + 1] = ids.join(",");
      broker.start();
      await waitFor("broker /healthz after restart", async () => (await fetch(`${url}/healthz`)).ok, 90000);
    },
    /** exitedProcs names the processes that have exited (for failure messages). */
    exitedProcs() {
      return procs.filter((p) => p.exitStatus !== null).map((p) => `${p.name} (${p.exitStatus})`);
    },
    /**
     * playTone plays a sine of freq Hz at amplitude amp (0..1 of full scale) into the instance's null sink with
     * pacat, until stop() of the result or of the cluster.
     */
    playTone(inst, freq, amp) {
      if (!inst.pulse) throw new Error(`${inst.id} has no PulseAudio (startCluster's audio option)`);
      const tone = new Proc(`tone-${inst.id}-${freq}`, "pacat", [
        `--server=${inst.pulse.server}`, `--device=${inst.pulse.sink}`, "--playback",
        "--format=s16le", "--rate=48000", "--channels=2", "--latency-msec=100",
      ], logDir, { stdin: "pipe" });
      procs.push(tone);
      const frames = 4800;
      const buf = Buffer.alloc(frames * 4);
      let n = 0;
      const feed = () => {
        for (;;) {
          for (let i = 0; i < frames; i++, n++) {
            const v = Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * n) / 48000));
            buf.writeInt16LE(v, 4 * i);
            buf.writeInt16LE(v, 4 * i + 2);
          }
          if (!tone.child.stdin.write(Buffer.from(buf))) return;
        }
      };
      tone.child.stdin.on("drain", feed);
      tone.child.stdin.on("error", () => {}); // EPIPE when pacat is stopped
      feed();
      return tone;
    },
    async stop() {
      await Promise.all(procs.map((p) => p.kill()));
      for (const pa of pulses) rmSync(pa.dir, { recursive: true, force: true });
      const survivors = killNaming(stateDirs);
      for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
      return { survivors };
    },
  };
}

/**
 * killNaming SIGKILLs every process whose command line names one of dirs (a QEMU or PulseAudio that outlived its
 * agent) and returns them as "pid comm".
 */
function killNaming(dirs) {
  if (dirs.length === 0) return [];
  const found = [];
  for (const e of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e) || Number(e) === process.pid) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (!dirs.some((d) => cmd.includes(d))) continue;
    try {
      process.kill(Number(e), "SIGKILL");
      found.push(`${e} ${cmd.split("\0")[0]}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** vncEvents reads the input events a vncsynth recorded since seq. */
export async function vncEvents(inst, since = 0) {
  const r = await fetch(`${inst.events}/events?since=${since}`);
  if (!r.ok) throw new Error(`vncsynth events: ${r.status}`);
  return (await r.json()) ?? [];
}

// Playwright gives every launch a fresh, empty profile directory of its own.
export const chromiumArgs = () => [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
  "--allow-loopback-in-peer-connection",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
  // WebGL for the VR view without a GPU.
  "--enable-unsafe-swiftshader",
  "--use-angle=swiftshader",
];

export const chromiumPath = process.env.LOCO_CHROMIUM ?? "/usr/bin/chromium";
export const haveChromium = () => existsSync(chromiumPath);
