// The programs the benchmarks measure, built from this repository into $LOCO_CACHE/bench/bin. A program that does
// not build (yet) is reported with the reason, so every figure that needs it says "not measured: <reason>".
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const cacheDir = path.join(process.env.LOCO_CACHE || path.join(os.homedir(), '.cache', 'loco'), 'bench');

const programs = {
  vncsynth: { module: 'agent', pkg: './cmd/loco-vncsynth', bin: 'loco-vncsynth' },
  agent: { module: 'agent', pkg: './cmd/loco-agent', bin: 'loco-agent' },
  broker: { module: 'broker', pkg: './cmd/loco-broker', bin: 'loco-broker' },
  // The harness's own helpers: Tight re-encoding for the noVNC baseline, user-space netem for the loss test.
  tightproxy: { module: 'hack', pkg: './bench/cmd/loco-tightproxy', bin: 'loco-tightproxy' },
  netem: { module: 'hack', pkg: './bench/cmd/loco-netem', bin: 'loco-netem' },
};

function goBuild(dir, out, pkg) {
  return new Promise((resolve) => {
    execFile('go', ['build', '-o', out, pkg], { cwd: dir, env: { ...process.env, CGO_ENABLED: '1' }, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve(err ? (stderr || err.message).trim().split('\n').slice(0, 3).join(' | ') : null));
  });
}

/** buildAll builds every program (one at a time: the machine has 2 cores) and returns {name: {path}|{missing}}. */
export async function buildAll(log = () => {}) {
  fs.mkdirSync(path.join(cacheDir, 'bin'), { recursive: true });
  const out = {};
  for (const [name, p] of Object.entries(programs)) {
    const dir = path.join(repoRoot, p.module);
    const pkgDir = path.join(dir, p.pkg);
    const hasGo = fs.existsSync(pkgDir) && fs.readdirSync(pkgDir).some((f) => f.endsWith('.go'));
    if (!hasGo) {
      out[name] = { missing: `${p.module}/${p.pkg.slice(2)} does not exist yet` };
      continue;
    }
    const bin = path.join(cacheDir, 'bin', p.bin);
    const t0 = Date.now();
    const err = await goBuild(dir, bin, p.pkg);
    if (err) {
      out[name] = { missing: `${p.module}/${p.pkg.slice(2)} does not build: ${err}` };
    } else {
      out[name] = { path: bin };
      log(`built ${p.bin} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  return out;
}
