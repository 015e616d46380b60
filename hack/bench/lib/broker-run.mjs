// Broker scale figures: RSS, CPU and WHEP offers relayed per second with many simulated agents and SSE viewers.
import path from 'node:path';
import { attachAgents, measureBroker, sseViewers, whepRate } from './brokerscale.mjs';
import { guard, measured } from './figure.mjs';
import { freePort, rssBytes, sleep, start, stop, tcpReady, waitFor } from './proc.mjs';

export async function brokerFigures(env, plan, need, log) {
  const keys = ['rss', 'cpu', 'whepPerSec'];
  return guard(keys, async () => {
    need('broker');
    const ids = Array.from({ length: plan.agents }, (_, i) => `sim-${i}`);
    const http = await freePort();
    const grpcPort = await freePort();
    const broker = start(env.bins.broker.path, [
      `--http-listen=127.0.0.1:${http}`, `--grpc-listen=127.0.0.1:${grpcPort}`, '--discovery=static', '--recover=off',
    ], { logFile: path.join(env.dir, 'broker-scale.log'), env: { LOCO_INSTANCES: ids.join(',') } });
    const base = `http://127.0.0.1:${http}`;
    let agents;
    let viewers;
    try {
      await tcpReady(http);
      await tcpReady(grpcPort);
      agents = await attachAgents(`127.0.0.1:${grpcPort}`, ids);
      // Every agent must show up as attached before anything is measured.
      await waitFor('every simulated agent attached', async () => {
        const res = await fetch(`${base}/api/instances`);
        const { instances } = await res.json();
        return instances.filter((i) => i.state !== 'INSTANCE_STATE_EXPECTED' && i.state !== 'INSTANCE_STATE_UNSPECIFIED').length >= ids.length;
      }, 60000, 500);
      await sleep(2000);
      const rssAgentsOnly = rssBytes(broker.pid);
      viewers = sseViewers(base, plan.viewers);
      let last = {};
      await waitFor(`${plan.viewers} SSE viewers (so far ${JSON.stringify(last)})`, async () => { last = await viewers.counts(); return last.connected + last.errors >= plan.viewers; }, 240000, 500).catch((err) => {
        throw new Error(`${err.message}; so far ${JSON.stringify(last)}`);
      });
      const { errors } = await viewers.counts();
      if (errors) throw new Error(`${errors} SSE viewers failed to connect`);
      const e0 = (await viewers.counts()).events;
      const steady = await measureBroker(broker.pid, async () => { await sleep(plan.whepSecs * 1000); return {}; });
      const afterSteady = await viewers.counts();
      const sseEventsPerSec = (afterSteady.events - e0) / plan.whepSecs;
      // Viewers the broker cut off during the steady window: the figures above were measured with fewer viewers.
      const viewersClosed = afterSteady.closed;
      const relay = await measureBroker(broker.pid, () => whepRate(base, ids, plan.whepSecs * 1000));
      log(`broker: rss ${(steady.peakRss / 2 ** 20).toFixed(1)} MiB (agents only ${(rssAgentsOnly / 2 ** 20).toFixed(1)} MiB), cpu ${steady.cpu.toFixed(3)}, whep ${relay.perSec.toFixed(0)}/s ${JSON.stringify(relay.statuses)}, SSE events ${sseEventsPerSec.toFixed(0)}/s, viewers cut off by the end of the steady window ${viewersClosed}`);
      if (relay.ok === 0) throw new Error(`no WHEP offer was answered: ${JSON.stringify(relay.statuses)}`);
      const detail = { agents: ids.length, rssAgentsOnlyMiB: rssAgentsOnly / 2 ** 20, viewers: plan.viewers, viewersClosed, sseEventsPerSec, whepStatuses: relay.statuses,
        answeredBySimAgents: agents.answered, relayCpu: relay.cpu, relayPeakRss: relay.peakRss };
      return {
        rss: measured(Math.max(steady.peakRss, relay.peakRss) / 2 ** 20, 'MiB', detail),
        cpu: measured(steady.cpu, 'core'),
        whepPerSec: measured(relay.perSec, 'offers/s'),
      };
    } finally {
      viewers?.close();
      agents?.close();
      await stop(broker);
    }
  }, log);
}
