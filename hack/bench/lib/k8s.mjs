// Pod Ready -> broker event: a real control plane (hack/k8s/up: etcd, kube-apiserver, controller-manager, scheduler,
// kwok playing the kubelet), the broker with Kubernetes discovery, one SSE viewer, and pods created one by one. For
// each pod: the time from our own watch seeing it turn Ready to the broker's SSE event that shows it ready.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { repoRoot } from './components.mjs';
import { guard, measured } from './figure.mjs';
import { percentile } from './stats.mjs';
import { freePort, sleep, start, stop, tcpReady, waitFor } from './proc.mjs';

const labels = { 'app.kubernetes.io/name': 'loco', 'app.kubernetes.io/component': 'emulator' };

function kubeconfig(file) {
  const text = fs.readFileSync(file, 'utf8');
  const get = (k) => { const m = new RegExp(`^\\s*${k}: (.*)$`, 'm').exec(text); return m ? m[1].trim().replace(/^"(.*)"$/, '$1') : ''; };
  return { server: get('server'), ca: fs.readFileSync(get('certificate-authority')), token: get('token') };
}

function api(kc, method, p, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(p, kc.server), { method, ca: kc.ca, headers: { authorization: `Bearer ${kc.token}`, 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => (res.statusCode < 300 ? resolve(JSON.parse(data || '{}')) : reject(new Error(`${method} ${p}: ${res.statusCode} ${data.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** watchReady calls onReady(name, epochMs) the first time each pod of ours is seen Ready. */
function watchReady(kc, onReady) {
  const seen = new Set();
  const sel = encodeURIComponent(Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','));
  const req = https.request(new URL(`/api/v1/namespaces/default/pods?watch=1&labelSelector=${sel}`, kc.server), { ca: kc.ca, headers: { authorization: `Bearer ${kc.token}` } }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (c) => {
      const now = Date.now();
      buf += c;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const ev = JSON.parse(line);
          const pod = ev.object;
          const ready = pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
          if (ready && !seen.has(pod.metadata.name)) { seen.add(pod.metadata.name); onReady(pod.metadata.name, now); }
        } catch { /* partial */ }
      }
    });
  });
  req.end();
  return () => req.destroy();
}

/** sseReady calls onReady(id, epochMs) the first time the broker's events show each instance ready. */
async function sseReady(base, onReady) {
  const seen = new Set();
  const ac = new AbortController();
  const res = await fetch(`${base}/api/events`, { signal: ac.signal });
  (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        const now = Date.now();
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(ev);
          if (!data) continue;
          const inst = JSON.parse(data[1]).instance;
          if (inst?.workload?.ready && !seen.has(inst.id)) { seen.add(inst.id); onReady(inst.id, now); }
        }
      }
    } catch { /* aborted */ }
  })();
  return () => ac.abort();
}

export async function readyToEvent(env, plan, need, log) {
  return guard(['p50', 'max'], async () => {
    need('broker');
    const up = start(path.join(repoRoot, 'hack', 'k8s', 'up'), ['--nodes=1'], { logFile: path.join(env.dir, 'kube-up.log') });
    let broker;
    const closers = [];
    try {
      const kcPath = await waitFor('hack/k8s/up to print KUBECONFIG', () => {
        if (up.exited) throw new Error(`hack/k8s/up exited: ${fs.readFileSync(path.join(env.dir, 'kube-up.log'), 'utf8').trim().split('\n').slice(-3).join(' | ')}`);
        const m = /^export KUBECONFIG=(.*)$/m.exec(fs.readFileSync(path.join(env.dir, 'kube-up.log'), 'utf8'));
        return m && m[1];
      }, plan.smoke ? 600000 : 1800000, 500);
      const kc = kubeconfig(kcPath);
      const http = await freePort();
      broker = start(env.bins.broker.path, [`--http-listen=127.0.0.1:${http}`, `--grpc-listen=127.0.0.1:${await freePort()}`,
        '--discovery=kubernetes', `--kubeconfig=${kcPath}`, '--namespace=default', '--recover=off'], { logFile: path.join(env.dir, 'broker-k8s.log') });
      await tcpReady(http, '127.0.0.1', 30000);
      const readyAt = new Map();
      const eventAt = new Map();
      closers.push(watchReady(kc, (n, t) => readyAt.set(n, t)));
      closers.push(await sseReady(`http://127.0.0.1:${http}`, (n, t) => eventAt.set(n, t)));
      const n = plan.smoke ? 2 : 10;
      const lat = [];
      for (let i = 0; i < n; i++) {
        const name = `loco-emulator-${i}`;
        await api(kc, 'POST', '/api/v1/namespaces/default/pods', {
          apiVersion: 'v1', kind: 'Pod', metadata: { name, labels },
          spec: { containers: [{ name: 'emulator', image: 'loco/emulator:bench' }] },
        });
        await waitFor(`${name} Ready and announced by the broker`, () => readyAt.has(name) && eventAt.has(name), 60000, 50);
        lat.push(eventAt.get(name) - readyAt.get(name));
        await sleep(200);
      }
      log(`pod Ready -> SSE event: ${lat.map((x) => x.toFixed(0)).join(', ')} ms`);
      return { p50: measured(percentile(lat, 50), 'ms', { each: lat }), max: measured(Math.max(...lat), 'ms') };
    } finally {
      for (const c of closers) c();
      if (broker) await stop(broker);
      await stop(up, 15000);
    }
  }, log);
}
