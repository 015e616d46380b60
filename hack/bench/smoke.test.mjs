// Smoke run of the benchmark harness (make test): a short run that must produce every figure the full run does
// (values are not checked: speed is measured by `make bench`, never asserted). A figure may be absent only when a
// program it needs does not exist in the tree yet, and then it must say so; any other failure fails the test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { densityCodecs, densityScenes } from './lib/density-run.mjs';
import { lossPaths } from './lib/loss.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

test('the harness produces every figure', { timeout: 20 * 60 * 1000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loco-bench-smoke-'));
  const json = path.join(dir, 'bench.json');
  const md = path.join(dir, 'benchmarks.md');
  const { stderr } = await new Promise((resolve, reject) => {
    execFile('node', [path.join(here, 'bench.mjs'), '--smoke', '--json', json, '--out', md], { maxBuffer: 1 << 26 },
      (err, stdout, stderr) => (err ? reject(new Error(`bench.mjs failed: ${err.message}\n${stderr}`)) : resolve({ stdout, stderr })));
  });
  const r = JSON.parse(fs.readFileSync(json, 'utf8'));
  const problems = [];
  const check = (name, f) => {
    if (!f) { problems.push(`${name}: absent`); return; }
    if (f.missing) {
      if (f.cause !== 'component') problems.push(`${name}: not measured: ${f.missing}`);
      else console.log(`# ${name}: not measured: ${f.missing}`);
      return;
    }
    if (!Number.isFinite(f.value)) problems.push(`${name}: not a number (${f.value})`);
  };
  const key = `${r.meta.plan.scenes[0]}/${r.meta.plan.depths[0]}`;
  for (const p of ['novnc', 'vp8', 'h264']) {
    for (const k of ['p50', 'p95', 'p99', 'fps', 'mbps', 'serverCpu', 'browserCpu']) check(`streams ${key} ${p} ${k}`, r.streams[key]?.[p]?.[k]);
  }
  for (const s of densityScenes) for (const c of densityCodecs) check(`density ${s}/${c}`, r.density[`${s}/${c}`]);
  for (const k of ['rss', 'cpu', 'whepPerSec']) check(`broker ${k}`, r.broker[k]);
  for (const k of ['p50', 'max']) check(`k8s ready->event ${k}`, r.k8s[k]);
  for (const p of lossPaths) for (const k of ['longestFreeze', 'pictureBack']) check(`loss ${p} ${k}`, r.loss[p]?.[k]);
  const text = fs.readFileSync(md, 'utf8');
  for (const h of ['# Benchmarks', '## Glass-to-glass', '## Density', '## Broker scale', '## Loss', 'Command:', 'Machine:']) {
    if (!text.includes(h)) problems.push(`benchmarks.md lacks "${h}"`);
  }
  assert.deepEqual(problems, [], `harness log:\n${stderr.split('\n').slice(-40).join('\n')}`);
  fs.rmSync(dir, { recursive: true, force: true });
});
