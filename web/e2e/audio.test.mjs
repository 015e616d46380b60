// End-to-end test of the web UI's audio in Debian's Chromium (playwright-core): real PulseAudio daemons (one per
// instance, a null sink whose monitor the agent records), tones played into them with pacat, real loco-agents
// encoding Opus into WebRTC, the real loco-broker, and the page's WebAudio graph. What the page sends to its
// speakers is tapped at the AudioContext's destination (tapAudioOutput) and told apart by frequency: instance A
// plays 440 Hz, B plays 1000 Hz, C is silent. Run by `make test-web-e2e` (after `make web`).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { buildBinaries, chromiumArgs, chromiumPath, sleep, startCluster, waitFor } from "./cluster.mjs";
import { allTilesPlaying, audioOut, audioOutPeak, meterState, tapAudioOutput, tileStates } from "./page.mjs";

const FREQ = [440, 1000]; // instance A's and B's tones; instance C plays nothing
const AMP = 0.1; // -23 dBFS RMS: the meter shows ~60 %, below its yellow and red marks, so its colour says heard
const HEARD_DB = -50; // a heard tone peaks near -36 dB in the output spectrum
const SILENT_DB = -75; // a muted one is below -100 (only the other tone's codec noise)
const SILENT_PEAK = 1e-4; // largest output sample while nothing may be heard (-80 dBFS)

const tileSel = (id) => `[data-testid="tile"][data-instance="${id}"]`;
const focusSel = '[data-testid="focus"]';

describe("web UI audio against real PulseAudio, agents and broker", { timeout: 300000 }, () => {
  let cluster;
  let browser;
  let page;
  let A, B, C;

  before(async () => {
    const bins = buildBinaries();
    cluster = await startCluster(bins, { n: 3, fps: 5, audio: true });
    [A, B, C] = cluster.instances;
    cluster.playTone(A, FREQ[0], AMP);
    cluster.playTone(B, FREQ[1], AMP);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs() });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // CI shares this 2-core machine with other work (load averages of 30 happen): wait generously.
    page.setDefaultTimeout(90000);
    page.on("pageerror", (e) => console.error("pageerror:", e.message));
    await page.addInitScript(tapAudioOutput);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await cluster?.stop();
  });

  const state = async () => ({
    out: await page.evaluate(audioOut, FREQ).catch((e) => e.message),
    meters: await meters().catch((e) => e.message),
    tiles: await page.evaluate(tileStates).catch((e) => e.message),
    exited: cluster.exitedProcs(),
    logs: cluster.logDir,
  });

  /** meters reads every tile's meter, and the focus view's when it is open: { id: {fill, colour} }. */
  async function meters() {
    const m = {};
    for (const i of cluster.instances) m[i.id] = await page.evaluate(meterState, `${tileSel(i.id)} [data-testid="meter"]`);
    m.focus = await page.evaluate(meterState, `${focusSel} [data-testid="meter"]`);
    return m;
  }

  /**
   * hears waits until the page's output holds exactly the tones of the instances in want (a subset of [A, B]):
   * over the last 8 readings (2 s) the others' tones are absent every time and the wanted ones present in at least
   * 6 (a loaded machine may drop a packet). With want empty, also no output sample may exceed SILENT_PEAK.
   */
  async function hears(want, what) {
    const on = FREQ.filter((_, k) => want.includes([A, B][k]));
    const off = FREQ.filter((f) => !on.includes(f));
    const recent = [];
    await audioOutPeakReset();
    await waitFor(
      what,
      async () => {
        const o = await page.evaluate(audioOut, FREQ);
        if (!o) return false;
        recent.push({
          off: off.every((f) => o.peaks[f] < SILENT_DB),
          on: on.every((f) => o.peaks[f] > HEARD_DB),
        });
        if (recent.length > 8) recent.shift();
        if (recent.length < 8 || !recent.every((r) => r.off) || recent.filter((r) => r.on).length < 6) return false;
        if (on.length === 0) {
          const peak = await page.evaluate(audioOutPeak);
          if (peak > SILENT_PEAK) {
            recent.length = 0;
            return false;
          }
        }
        return true;
      },
      90000,
      250,
      state,
    );
  }
  const audioOutPeakReset = () => page.evaluate(audioOutPeak);

  /** meterShows waits until an instance's meter shows its tone (or, for C, stays empty) in the right colour. */
  async function meterShows(where, inst, heard, what) {
    const sel = where === "focus" ? `${focusSel} [data-testid="meter"]` : `${tileSel(inst.id)} [data-testid="meter"]`;
    const silent = inst === C;
    await waitFor(
      what,
      async () => {
        const m = await page.evaluate(meterState, sel);
        if (!m) return false;
        if (silent) return m.fill === 0;
        return m.fill > 0.3 && m.colour === (heard ? "green" : "slate");
      },
      90000,
      250,
      state,
    );
  }

  /** medianPeaks reads the output spectrum 7 times, 100 ms apart, and returns each tone's median peak (dB). */
  async function medianPeaks() {
    const rows = [];
    for (let i = 0; i < 7; i++) {
      rows.push((await page.evaluate(audioOut, FREQ)).peaks);
      await sleep(100);
    }
    return Object.fromEntries(FREQ.map((f) => [f, rows.map((r) => r[f]).sort((a, b) => a - b)[3]]));
  }

  const muteTitle = (scope) => page.getAttribute(`${scope} [data-testid="mute"]`, "title");

  it("in the grid every tile starts muted: each meter shows its own instance's sound, none reaches the speakers", async () => {
    // Listen from the very first connection: a muted tile must not blip while its audio is being wired up.
    await page.goto(cluster.url);
    await waitFor("3 tiles playing", () => page.evaluate(allTilesPlaying, 3), 120000, 250, state);
    await meterShows("grid", A, false, "A's meter showing its tone, muted");
    await meterShows("grid", B, false, "B's meter showing its tone, muted");
    const blip = await page.evaluate(audioOutPeak); // since the page loaded
    await meterShows("grid", C, false, "C's meter staying empty (C plays nothing)");
    await hears([], "silence with every tile muted");
    const out = await page.evaluate(audioOut, FREQ);
    assert.equal(out.state, "running", "the AudioContext runs");
    assert.ok(blip <= SILENT_PEAK, `a muted tile reached the speakers while connecting (peak sample ${blip})`);
    for (const i of cluster.instances) assert.equal(await muteTitle(tileSel(i.id)), "Unmute", `${i.id}'s button`);
  });

  it("per-tile mute in the grid: unmuting a tile makes only it heard, muting it again silences it", async () => {
    await page.click(`${tileSel(B.id)} [data-testid="mute"]`);
    assert.equal(await page.$(focusSel), null, "the mute button opened the focus view");
    await hears([B], "only B heard after unmuting B");
    await meterShows("grid", B, true, "B's meter green (heard)");
    await meterShows("grid", A, false, "A's meter still slate (muted)");
    assert.equal(await muteTitle(tileSel(B.id)), "Mute");
    await page.click(`${tileSel(B.id)} [data-testid="mute"]`);
    await hears([], "silence after muting B again");
    await meterShows("grid", B, false, "B's meter slate again, still showing its tone");
    // Leave B unmuted in the grid for the focus test: focus must silence it anyway.
    await page.click(`${tileSel(B.id)} [data-testid="mute"]`);
    await hears([B], "B heard again");
  });

  it("focus: only the focused instance is heard; its mute silences it and unmute brings it back", async () => {
    await page.keyboard.press("Control+Digit1");
    await page.waitForSelector(`${focusSel}[data-instance="${A.id}"]`);
    await hears([A], "only A heard while A is focused (B was unmuted in the grid)");
    await meterShows("focus", A, true, "the focus view's meter showing A's tone, heard");
    await meterShows("grid", B, false, "B's tile meter slate while A is focused");
    assert.equal(await muteTitle(focusSel), "Mute");
    await page.click(`${focusSel} [data-testid="mute"]`);
    await hears([], "silence after muting the focused instance");
    await meterShows("focus", A, false, "the focus meter slate, still showing A's tone");
    await page.click(`${focusSel} [data-testid="mute"]`);
    await hears([A], "A heard again after unmuting it in the focus view");
  });

  it("the focused instance's audio returns after its agent restarts, still alone", async () => {
    await A.agent.kill("SIGKILL");
    await page.waitForSelector(`${tileSel(A.id)}:not([data-phase="playing"])`, { state: "attached" });
    A.agent.start();
    await page.waitForSelector(`${tileSel(A.id)}[data-phase="playing"]`, { state: "attached" });
    await hears([A], "only A heard after its agent came back");
  });

  it("back in the grid each tile's own mute and volume apply again", async () => {
    await page.click('[data-testid="close-focus"]');
    await page.waitForSelector(focusSel, { state: "detached" });
    // B was unmuted in the grid and A by hand in the focus view: both are heard; C has nothing to hear.
    await hears([A, B], "A and B heard in the grid");
    // B's volume slider down from 0.8 to 0.2 with the keyboard (12 steps of 0.05): B gets quieter (-12 dB), A not.
    const loud = await medianPeaks();
    const slider = page.locator(`${tileSel(B.id)} input[aria-label="Volume"]`);
    await slider.focus();
    for (let i = 0; i < 12; i++) await slider.press("ArrowLeft");
    assert.equal(await slider.inputValue(), "0.2");
    const quiet = await waitFor(
      "B quieter after turning its volume down, A as loud",
      async () => {
        const q = await medianPeaks();
        const ok = q[FREQ[1]] < loud[FREQ[1]] - 6 && q[FREQ[1]] > SILENT_DB && Math.abs(q[FREQ[0]] - loud[FREQ[0]]) < 3;
        return ok && q;
      },
      90000,
      250,
      async () => ({ loud, now: await medianPeaks(), ...(await state()) }),
    );
    console.log(`# output peaks (dB) at volume 0.8: ${JSON.stringify(loud)}; B at 0.2: ${JSON.stringify(quiet)}`);
    for (let i = 0; i < 12; i++) await slider.press("ArrowRight");
    assert.equal(await slider.inputValue(), "0.8");
    await page.click(`${tileSel(A.id)} [data-testid="mute"]`);
    await hears([B], "only B heard after muting A's tile");
    await page.click(`${tileSel(B.id)} [data-testid="mute"]`);
    await hears([], "silence after muting B's tile");
    // Muted, but the meters still show each instance's sound: the stream keeps playing into the analysers.
    await meterShows("grid", A, false, "A's meter still showing its tone");
    await meterShows("grid", B, false, "B's meter still showing its tone");
  });

  it("an instance that goes away takes its audio chain with it, and gets one again when it returns", async () => {
    const attached = () => page.evaluate(() => window.__loco.audio.attachedIds().sort());
    await waitFor("A's and B's audio routed", async () => {
      const ids = await attached();
      return ids.includes(A.id) && ids.includes(B.id);
    }, 90000);
    await cluster.restartBroker(cluster.instances.filter((i) => i !== B).map((i) => i.id));
    await page.waitForSelector(tileSel(B.id), { state: "detached" });
    // The pool closes the tile's session after its grace period; the chain (and its meter loop) must go too.
    await waitFor("B's audio chain gone", async () => !(await attached()).includes(B.id), 90000, 250, attached);
    assert.ok((await attached()).includes(A.id), "A's audio chain went with B's");
    await cluster.restartBroker(cluster.instances.map((i) => i.id));
    await page.waitForSelector(`${tileSel(B.id)}[data-phase="playing"]`, { state: "attached" });
    await waitFor("B's audio routed again", async () => (await attached()).includes(B.id), 90000, 250, attached);
  });
});
