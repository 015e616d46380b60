// Broker scale: many simulated agents attached over real gRPC (loco.v1.Broker.Attach), many SSE viewers, and
// WHEP offers relayed through the broker to the simulated agents, which answer at once.
import { fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { CpuMeter, rssBytes, sleep } from './proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot = path.join(here, '..', '..', '..', 'proto');

function loadBrokerService() {
  const def = protoLoader.loadSync('loco/v1/broker.proto', {
    includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: false, oneofs: true,
  });
  return grpc.loadPackageDefinition(def).loco.v1.Broker;
}

/** A minimal, well-formed SDP offer (recvonly video + audio, DataChannel), like a browser's. */
export const sampleOffer = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1 2',
  'a=extmap-allow-mixed', 'a=msid-semantic: WMS',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:benc', 'a=ice-pwd:benchbenchbenchbenchbenc', 'a=ice-options:trickle',
  'a=fingerprint:sha-256 5D:2F:E1:7B:2A:8B:0B:9E:1C:AA:3B:4D:8E:5F:1A:2B:3C:4D:5E:6F:70:81:92:A3:B4:C5:D6:E7:F8:09:1A:2B',
  'a=setup:actpass', 'a=mid:0', 'a=recvonly', 'a=rtcp-mux', 'a=rtcp-rsize',
  'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack', 'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 H264/90000', 'a=fmtp:97 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:benc', 'a=ice-pwd:benchbenchbenchbenchbenc', 'a=ice-options:trickle',
  'a=fingerprint:sha-256 5D:2F:E1:7B:2A:8B:0B:9E:1C:AA:3B:4D:8E:5F:1A:2B:3C:4D:5E:6F:70:81:92:A3:B4:C5:D6:E7:F8:09:1A:2B',
  'a=setup:actpass', 'a=mid:1', 'a=recvonly', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:benc', 'a=ice-pwd:benchbenchbenchbenchbenc', 'a=ice-options:trickle',
  'a=fingerprint:sha-256 5D:2F:E1:7B:2A:8B:0B:9E:1C:AA:3B:4D:8E:5F:1A:2B:3C:4D:5E:6F:70:81:92:A3:B4:C5:D6:E7:F8:09:1A:2B',
  'a=setup:actpass', 'a=mid:2', 'a=sctp-port:5000', 'a=max-message-size:262144', '',
].join('\r\n');

/** answerFor turns an offer into a matching answer (what a real agent would send, minus real media). */
function answerFor(offer) {
  return offer.replace('a=setup:actpass', 'a=setup:active').replaceAll('a=setup:actpass', 'a=setup:active')
    .replaceAll('a=recvonly', 'a=sendonly').replace(/^o=.*$/m, 'o=- 1 2 IN IP4 127.0.0.1')
    .replace(/a=ice-ufrag:\w+/g, 'a=ice-ufrag:agnt').replace('a=ice-options:trickle', 'a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host');
}

function healthReport() {
  const now = Date.now();
  return {
    measured_at: { seconds: String(Math.floor(now / 1000)), nanos: (now % 1000) * 1e6 },
    verdict: 'VERDICT_HEALTHY', vnc_connected: true, vnc_fps: 30, encoded_fps: 30, seconds_since_change: 0,
    screen: 'SCREEN_VERDICT_OK', screen_mode: { width: 800, height: 600, guest_bpp: 16 },
    audio_rms_dbfs: -30, encode_ms_mean: 5, encode_ms_p95: 7, video_target_bps: '1000000', sent_bps: '500000',
    viewers: 0, qemu: 'QEMU_STATE_RUNNING',
  };
}

/** attachAgents opens n Attach streams to grpcAddr as ids[i]; each answers offers at once and reports health every second. */
export async function attachAgents(grpcAddr, ids) {
  const Broker = loadBrokerService();
  // A handful of channels carry all streams, as many agents behind few connections would; HTTP/2 multiplexes them.
  const channels = Array.from({ length: 8 }, (_, i) => new Broker(grpcAddr, grpc.credentials.createInsecure(),
    { 'grpc.max_concurrent_streams': 2000, 'grpc.default_authority': `bench-${i}` }));
  const agents = [];
  let answered = 0;
  let attachErrors = 0;
  for (const [i, id] of ids.entries()) {
    const call = channels[i % channels.length].Attach();
    call.on('data', (msg) => {
      if (msg.offer) {
        call.write({ answer: { session_id: msg.offer.session_id, sdp: answerFor(msg.offer.sdp), role: 'ROLE_SPECTATOR' } });
        answered++;
      }
    });
    call.on('error', () => { attachErrors++; });
    call.write({ hello: {
      instance_id: id, agent_version: 'bench-sim', video_codecs: ['video/H264', 'video/VP8'], audio_codecs: ['audio/opus'],
      webrtc: { udp_port: 8443, tcp_port: 0 }, input_protocol_version: 1, profile: 'external',
    } });
    call.write({ health: healthReport() });
    agents.push(call);
  }
  const timer = setInterval(() => { for (const c of agents) c.write({ health: healthReport() }); }, 1000);
  return {
    get answered() { return answered; },
    get attachErrors() { return attachErrors; },
    close() {
      clearInterval(timer);
      for (const c of agents) c.cancel();
      for (const ch of channels) ch.close();
    },
  };
}

/** sseViewers opens n GET /api/events streams in a child process (lib/sse-viewers.mjs) that counts the events. */
export function sseViewers(base, n) {
  const child = fork(path.join(here, 'sse-viewers.mjs'), [base, String(n)], { stdio: 'inherit' });
  return {
    counts: () => new Promise((resolve) => { child.once('message', resolve); child.send('counts'); }),
    close() { child.kill('SIGKILL'); },
  };
}

/** whepRate POSTs offers with `concurrency` workers for windowMs and returns 201 answers per second. */
export async function whepRate(base, ids, windowMs, concurrency = 16) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const deadline = Date.now() + windowMs;
  let ok = 0;
  let failed = 0;
  const statuses = {};
  const t0 = Date.now();
  const post = (id) => new Promise((resolve) => {
    const req = http.request(`${base}/api/instances/${encodeURIComponent(id)}/whep`, {
      method: 'POST', agent, headers: { 'content-type': 'application/sdp' },
    }, (res) => {
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      const loc = res.headers.location;
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 201) {
          ok++;
          if (loc) { // leave politely, so sessions do not pile up
            const del = http.request(new URL(loc, base), { method: 'DELETE', agent }, (r) => r.resume());
            del.on('error', () => {});
            del.end();
          }
        } else failed++;
        resolve();
      });
    });
    req.on('error', () => { failed++; resolve(); });
    req.end(sampleOffer);
  });
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) await post(ids[next++ % ids.length]);
  }));
  agent.destroy();
  const secs = (Date.now() - t0) / 1000;
  return { perSec: ok / secs, ok, failed, statuses };
}

/** measureBroker samples the broker's RSS and CPU while fn runs. */
export async function measureBroker(pid, fn) {
  const cpu = new CpuMeter(() => [pid]);
  cpu.begin();
  let peakRss = 0;
  const t = setInterval(() => { peakRss = Math.max(peakRss, rssBytes(pid)); }, 200);
  const result = await fn();
  clearInterval(t);
  peakRss = Math.max(peakRss, rssBytes(pid));
  return { ...result, cpu: cpu.end(), peakRss };
}

export { sleep };
