// End-to-end test of playing the project's demo guest from the browser, through the whole production path:
// Debian's Chromium (playwright-core) -> the web UI served by the real loco-broker -> WHEP -> a real loco-agent
// that supervises PulseAudio and QEMU (TCG) booting the demo guest (hack/guest, profile demo, as `make run`
// does) -> the input DataChannel -> QEMU's VNC server -> the guest's PS/2 relative mouse and keyboard. What the
// guest believes is read back from the picture the page decodes: the guest paints its state (pointer, buttons,
// key count, frame counter) into a strip of 10x10 blocks at the bottom of its screen (hack/guest/strip), and
// page.mjs's watchStrip decodes it from every frame the <video> presents. Run by `make test-web-e2e`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { buildBinaries, chromiumArgs, chromiumPath, startCluster, waitFor } from "./cluster.mjs";
import { meterPeak, stripSince, tapTone, tileStates, toneOutPeak, watchStrip } from "./page.mjs";

const focusVideo = '[data-testid="focus-video"]';
// Linux input key codes (KEY_*) of the keys typed.
const KEY = { esc: 1, o: 24, c: 46 };
// The guest's click sound: a 60 ms 3 kHz tick (hack/guest/init/sound.go); its train's chuff is a low rumble.
const CLICK_HZ = 3000;
const CLICK_AMP = 0.03; // a click measures ~0.1 here, a chuff ~0.006

describe("playing the demo guest under QEMU from the browser", { timeout: 900000 }, () => {
  let cluster;
  let browser;
  let page;
  let inst;
  let startedAt;

  before(async () => {
    const bins = buildBinaries();
    startedAt = Date.now();
    cluster = await startCluster(bins, { n: 1, fps: 30, profile: "demo" });
    inst = cluster.instances[0];
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs() });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // CI shares this 2-core machine with other work (load averages of 30 happen), and QEMU runs under TCG.
    page.setDefaultTimeout(180000);
    page.on("pageerror", (e) => console.error("pageerror:", e.message));
    await page.addInitScript(tapTone, CLICK_HZ);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    const r = await cluster?.stop();
    // Every QEMU and PulseAudio went with its agent (stop() kills and names any that did not).
    if (r) assert.deepEqual(r.survivors, [], "processes outlived their agent");
  });

  // The strips read so far: since is the last sequence number taken, last the latest strip.
  let since = 0;
  let last = null;
  let info = null;
  const describePage = async () => ({
    last,
    recorder: info && { frames: info.frames, other: info.other, sizes: info.sizes, live: info.live },
    tiles: await page.evaluate(tileStates).catch((e) => e.message),
    focus: await page.getAttribute('[data-testid="focus"]', "data-capturing", { timeout: 1000 }).catch(() => null),
    exited: cluster.exitedProcs(),
    logs: cluster.logDir,
  });

  /** next returns the strips decoded since the previous call (watching selector's video). */
  async function next(selector) {
    await page.evaluate(watchStrip, selector);
    info = await page.evaluate(stripSince, since);
    const got = info?.states ?? [];
    if (got.length) {
      since = got[got.length - 1].seq;
      last = got[got.length - 1];
    }
    return got;
  }

  /** strip waits for a decoded strip that satisfies ok and returns it. */
  function strip(what, ok, timeoutMs = 60000, selector = focusVideo) {
    return waitFor(what, async () => (await next(selector)).find(ok), timeoutMs, 100, describePage);
  }

  /**
   * settled waits until the guest's pointer has stayed put for 600 ms of the page's clock (and 3 strips), and
   * returns the latest strip: the position every frame after it will show until the next move.
   */
  async function settled() {
    let anchor = null;
    let count = 0;
    return waitFor(
      "the guest's pointer at rest",
      async () => {
        for (const s of await next(focusVideo)) {
          if (!anchor || s.x !== anchor.x || s.y !== anchor.y) [anchor, count] = [s, 0];
          count++;
        }
        return anchor && count >= 3 && last.t - anchor.t >= 600 && last;
      },
      60000,
      100,
      describePage,
    );
  }

  // The browser's pointer: Playwright moves it in whole pixels, so each mousemove's movementX/Y is the step.
  let mouse = null;
  /** moveBy moves the browser's (locked) pointer by (dx, dy) in uneven whole-pixel steps, as a hand does. */
  async function moveBy(dx, dy) {
    let sent = [0, 0];
    for (const f of [0.05, 0.2, 0.01, 0.4, 0.1, 0.03]) {
      const step = [Math.trunc(f * dx), Math.trunc(f * dy)];
      if (!step[0] && !step[1]) continue;
      sent = [sent[0] + step[0], sent[1] + step[1]];
      await page.mouse.move(mouse.x + sent[0], mouse.y + sent[1]);
    }
    await page.mouse.move(mouse.x + dx, mouse.y + dy);
    mouse = { x: mouse.x + dx, y: mouse.y + dy };
  }

  it("the guest boots and its animated screen plays in the tile", async () => {
    const t0 = Date.now();
    await page.goto(`${cluster.url}/?name=Ana`);
    const tileVideo = `[data-testid="tile"][data-instance="${inst.id}"] video`;
    await page.waitForSelector(tileVideo, { state: "attached" });
    // QEMU under TCG boots the guest slowly on a loaded machine: wait minutes, assert nothing about speed.
    const first = await strip("the guest's state strip in the tile's video", () => true, 300000, tileVideo);
    const sinceStart = t0 + first.t - startedAt;
    console.log(
      `# page load to the first guest frame (state strip decoded in the tile's video): ${first.t} ms; ` +
        `${sinceStart} ms after the cluster (broker, agent, PulseAudio, QEMU) was started; video sizes seen ${JSON.stringify(info.sizes)}`,
    );
    const moving = await strip("the guest's frame counter advancing", (s) => s.frame >= first.frame + 10, 90000, tileVideo);
    assert.ok(moving.t > first.t);
  });

  it("focus, control, pointer lock: relative moves, a click and keys reach the guest's PS/2 mouse and keyboard", async () => {
    await page.keyboard.press("Control+Digit1");
    await page.waitForSelector(`[data-testid="focus"][data-instance="${inst.id}"]`);
    await page.click('[data-testid="take"]');
    await page.waitForSelector('[data-testid="focus"][data-role="controller"]');
    const first = await strip("the guest's state strip in the focus view's video", () => true);
    await strip("the frame counter advancing in the focus view", (s) => s.frame >= first.frame + 10);
    const size = await page.evaluate((sel) => {
      const v = document.querySelector(sel);
      return `${v.videoWidth}x${v.videoHeight}`;
    }, focusVideo);

    // Click into the picture: that starts the capture and asks for pointer lock (it is not sent to the guest).
    const box = await page.locator(focusVideo).boundingBox();
    mouse = { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
    await page.mouse.move(mouse.x, mouse.y);
    await page.mouse.click(mouse.x, mouse.y);
    await page.waitForSelector('[data-testid="focus"][data-capturing="1"]');
    const locked = await page.evaluate(() => document.pointerLockElement?.dataset.testid ?? null);
    console.log(`# focus video ${size}; pointer lock granted: ${locked === "focus-video"}`);

    // Two legs, from wherever the guest says its pointer is to a target and on to a second one: the guest's
    // pointer follows relative motion, so where it ends is where it started plus everything the browser sent.
    const start = await settled();
    const t1 = [start.x < 400 ? start.x + 230 : start.x - 230, start.y < 300 ? start.y + 140 : start.y - 140];
    await moveBy(t1[0] - start.x, t1[1] - start.y);
    // Wait for the pointer to get there before judging where it rests: a loaded machine may hold the motion back
    // for longer than settled()'s 600 ms while the video goes on (a pointer that stops short fails here).
    await strip("the guest's pointer at target 1", (s) => Math.abs(s.x - t1[0]) <= 2 && Math.abs(s.y - t1[1]) <= 2);
    const at1 = await settled();
    const t2 = [t1[0] < 400 ? t1[0] + 170 : t1[0] - 170, t1[1] < 300 ? t1[1] + 190 : t1[1] - 190];
    await moveBy(t2[0] - at1.x, t2[1] - at1.y);
    const at2 = await settled();
    console.log(
      `# guest pointer: start (${start.x}, ${start.y}); target 1 (${t1}), reached (${at1.x}, ${at1.y}); ` +
        `target 2 (${t2}), reached (${at2.x}, ${at2.y})`,
    );
    const err1 = [at1.x - t1[0], at1.y - t1[1]];
    assert.ok(Math.abs(err1[0]) <= 2 && Math.abs(err1[1]) <= 2, `first leg: guest pointer off target by ${err1}`);

    // A left click where the pointer is: the guest sees the button down (and counts a click), then up.
    await page.mouse.down();
    const down = await strip("the left button down in the guest", (s) => s.buttons === 1 && s.clicks === at2.clicks + 1);
    await page.mouse.up();
    await strip("the button released in the guest", (s) => s.buttons === 0 && s.clicks === at2.clicks + 1);
    const err = [down.x - t2[0], down.y - t2[1]];
    console.log(`# pointer error at the click (browser relative moves -> guest PS/2 mouse): dx=${err[0]} dy=${err[1]} px`);
    assert.ok(Math.abs(err[0]) <= 2 && Math.abs(err[1]) <= 2, `guest pointer at (${down.x}, ${down.y}) at the click, target (${t2})`);

    // Keys: the guest counts every key press and shows the last key's Linux code.
    const k0 = last.keys;
    await page.keyboard.type("loco");
    const typed = await strip("four key presses in the guest", (s) => s.keys === k0 + 4 && s.lastKey === KEY.o);
    assert.equal(typed.buttons, 0);

    // Esc twice gives mouse and keyboard back (the first Esc is a key for the guest). A loaded machine may space
    // the two presses wider than the double-press window: press again until the capture has ended.
    let escapes = 0;
    await waitFor("the capture ended by Esc twice", async () => {
      await page.keyboard.press("Escape");
      await page.keyboard.press("Escape");
      escapes += 2;
      return (await page.getAttribute('[data-testid="focus"]', "data-capturing")) === "0";
    }, 60000, 500, describePage);
    await page.keyboard.type("c");
    const after = await strip("a few more frames", (s) => s.frame >= typed.frame + 20);
    assert.ok(after.keys > typed.keys && after.keys < typed.keys + escapes && after.lastKey === KEY.esc,
      `the guest's keys after Esc Esc: ${after.keys - typed.keys} presses, last ${after.lastKey} (want Esc, not C)`);
    assert.equal(after.buttons, 0);
  });

  it("the guest's click sound reaches the page's speakers, and its meter moves", async () => {
    await page.mouse.click(mouse.x, mouse.y);
    await page.waitForSelector('[data-testid="focus"][data-capturing="1"]');
    const tileMeter = `[data-testid="tile"][data-instance="${inst.id}"] [data-testid="meter"]`;
    // A lap of the train (8 s, one chuff at the station) without clicks: the tone detector stays quiet.
    await page.evaluate(toneOutPeak);
    await new Promise((r) => setTimeout(r, 9000));
    const quiet = await page.evaluate(toneOutPeak);
    console.log(`# output for 9 s without clicks: ${CLICK_HZ} Hz amplitude ${quiet.amp}, largest block RMS ${quiet.rms}`);
    assert.ok(quiet.blocks > 0, "no audio block reached the page's output");
    assert.ok(quiet.amp < CLICK_AMP, `a ${CLICK_HZ} Hz tone without clicks: ${quiet.amp}`);
    // Every click is a sound; a machine under heavy load may drop an audio block, so up to five clicks.
    let heard = null;
    let meter = 0;
    for (let i = 0; i < 5 && !heard; i++) {
      const before = last.clicks;
      await page.evaluate(toneOutPeak);
      const peak = page.evaluate(meterPeak, { selector: tileMeter, ms: 3000 });
      await page.mouse.down();
      await strip("the click in the guest", (s) => s.clicks === before + 1);
      await page.mouse.up();
      heard = await waitFor("", async () => {
        const p = await page.evaluate(toneOutPeak);
        return p.amp >= CLICK_AMP && p;
      }, 5000, 100).catch(() => null);
      meter = Math.max(meter, await peak);
      console.log(`# click ${i + 1}: ${heard ? `heard, ${CLICK_HZ} Hz amplitude ${heard.amp}` : "not heard"}; tile meter peak ${meter}`);
    }
    assert.ok(heard, `no ${CLICK_HZ} Hz click at the page's output after 5 clicks`);
    assert.ok(meter > 0, "the tile's meter stayed empty while the guest clicked");
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
  });
});
