// Functions that run inside the page (passed to page.evaluate) and small helpers around them.

/**
 * probeVideo watches one tile's <video> for at least ms milliseconds, and on until minFrames frames were
 * presented or maxMs passed: frames presented (requestVideoFrameCallback), the time watched, the vncsynth frame
 * stamp at the start and end, and the mean colour of the instance band's right end. fbWidth is the guest width,
 * to scale the stamp's 16-pixel blocks onto the video. The machine the tests run on is shared and sometimes
 * very loaded, so this checks that the video is live, not how fast it is (that is `make bench`'s job).
 */
export async function probeVideo({ selector, ms = 1500, minFrames = 3, maxMs = 30000, fbWidth }) {
  const video = document.querySelector(selector);
  if (!video) return { error: `no ${selector}` };
  const grab = () => {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return null;
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    const g = c.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0);
    const d = g.getImageData(0, 0, w, h).data;
    const s = w / fbWidth;
    const px = (x, y) => {
      const i = (Math.floor(y) * w + Math.floor(x)) * 4;
      return [d[i], d[i + 1], d[i + 2]];
    };
    const lum = (x, y) => {
      const p = px(x, y);
      return (p[0] + p[1] + p[2]) / 3;
    };
    const mean = (b) => {
      let sum = 0;
      for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) sum += lum((b * 16 + x) * s, y * s);
      return sum / 64;
    };
    let stamp = null;
    const wh = mean(0);
    const bk = mean(1);
    if (wh - bk >= 64) {
      stamp = 0;
      for (let i = 0; i < 16; i++) stamp = (stamp << 1) | (mean(2 + i) > (wh + bk) / 2 ? 1 : 0);
    }
    const band = [0, 0, 0];
    let n = 0;
    for (let y = 8 * s; y < 16 * s; y++) {
      for (let x = w - 60 * s; x < w - 12 * s; x++) {
        const p = px(x, y);
        band[0] += p[0];
        band[1] += p[1];
        band[2] += p[2];
        n++;
      }
    }
    return { w, h, stamp, band: band.map((v) => Math.round(v / n)) };
  };
  const first = grab();
  let frames = 0;
  const start = performance.now();
  await new Promise((resolve) => {
    const enough = () => {
      const t = performance.now() - start;
      return (t >= ms && frames >= minFrames) || t >= maxMs;
    };
    const cb = () => {
      frames++;
      if (!enough()) video.requestVideoFrameCallback(cb);
    };
    video.requestVideoFrameCallback(cb);
    const tick = setInterval(() => {
      if (enough()) {
        clearInterval(tick);
        resolve();
      }
    }, 100);
  });
  const last = grab();
  return { frames, ms: Math.round(performance.now() - start), first, last };
}

/** allTilesPlaying says whether n tiles exist and each has presented at least one frame. */
export function allTilesPlaying(n) {
  const vids = [...document.querySelectorAll('[data-testid="tile"] video')];
  return (
    vids.length === n &&
    vids.every((v) => v.readyState >= 2 && v.getVideoPlaybackQuality().totalVideoFrames > 0)
  );
}

/** tileStates describes every tile for a failure message: instance, phase, status text, video state. */
export function tileStates() {
  return [...document.querySelectorAll('[data-testid="tile"]')].map((t) => {
    const v = t.querySelector("video");
    const q = v?.getVideoPlaybackQuality?.();
    return {
      id: t.dataset.instance,
      phase: t.dataset.phase,
      status: t.querySelector('[data-testid="tile-status"]')?.textContent ?? "",
      readyState: v?.readyState ?? -1,
      size: v ? `${v.videoWidth}x${v.videoHeight}` : "",
      frames: q?.totalVideoFrames ?? 0,
    };
  });
}

/** Nearest colour index (Euclidean RGB). */
export function nearest(rgb, palette) {
  let best = -1;
  let bestD = Infinity;
  palette.forEach((p, i) => {
    const d = (p[0] - rgb[0]) ** 2 + (p[1] - rgb[1]) ** 2 + (p[2] - rgb[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  });
  return { index: best, distance: Math.sqrt(bestD) };
}

/** vrScreens returns the projected centre of every VR screen (page pixels) and whether a video texture is bound. */
export function vrScreens() {
  const sceneEl = document.querySelector("a-scene");
  if (!sceneEl || !sceneEl.hasLoaded || !sceneEl.camera) return null;
  const THREE = window.AFRAME.THREE;
  const rect = sceneEl.canvas.getBoundingClientRect();
  return [...document.querySelectorAll("a-plane.screen")].map((el) => {
    const v = new THREE.Vector3();
    el.object3D.getWorldPosition(v);
    v.project(sceneEl.camera);
    const mesh = el.getObject3D("mesh");
    const map = mesh?.material?.map;
    return {
      id: el.dataset.instance,
      x: rect.left + ((v.x + 1) / 2) * rect.width,
      y: rect.top + ((1 - v.y) / 2) * rect.height,
      video: !!map && !!map.isVideoTexture,
      playing: !!map?.image && map.image.readyState >= 2 && map.image.getVideoPlaybackQuality().totalVideoFrames > 0,
    };
  });
}

/** samplePNG decodes a PNG (base64) in the page and returns mean colour and spread of 9x9 patches. */
export async function samplePNG({ b64, points }) {
  const img = new Image();
  img.src = `data:image/png;base64,${b64}`;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.width;
  c.height = img.height;
  const g = c.getContext("2d", { willReadFrequently: true });
  g.drawImage(img, 0, 0);
  return points.map(({ x, y }) => {
    const d = g.getImageData(Math.round(x) - 20, Math.round(y) - 20, 41, 41).data;
    const m = [0, 0, 0];
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      m[0] += d[i];
      m[1] += d[i + 1];
      m[2] += d[i + 2];
    }
    const mean = m.map((v) => v / n);
    let spread = 0;
    for (let i = 0; i < d.length; i += 4) spread += Math.abs(d[i] - mean[0]) + Math.abs(d[i + 1] - mean[1]) + Math.abs(d[i + 2] - mean[2]);
    return { mean: mean.map(Math.round), spread: Math.round(spread / n) };
  });
}

/**
 * tapAudioOutput (a page init script) taps what the page sends to its speakers: every connection into an
 * AudioContext's destination is also made into one AnalyserNode per context (window.__audioOut), which feeds a
 * ScriptProcessor that keeps the largest sample magnitude since the last audioOutPeak reset (window.__audioPeak),
 * so a sound too short for a polled analyser is still caught. It changes nothing the page hears (the processor
 * outputs silence); disconnecting a node from everything also disconnects it from the tap.
 */
export function tapAudioOutput() {
  const connect = AudioNode.prototype.connect;
  window.__audioPeak = 0;
  AudioNode.prototype.connect = function (dest, ...rest) {
    const r = connect.call(this, dest, ...rest);
    if (dest instanceof AudioDestinationNode) {
      const ctx = this.context;
      if (!ctx.__tap) {
        const a = ctx.createAnalyser();
        a.fftSize = 8192;
        a.smoothingTimeConstant = 0;
        const sp = ctx.createScriptProcessor(1024, 2, 2);
        sp.onaudioprocess = (e) => {
          for (let ch = 0; ch < e.inputBuffer.numberOfChannels; ch++) {
            for (const v of e.inputBuffer.getChannelData(ch)) {
              if (Math.abs(v) > window.__audioPeak) window.__audioPeak = Math.abs(v);
            }
          }
        };
        connect.call(a, sp);
        connect.call(sp, ctx.destination); // a ScriptProcessor runs only while connected to the destination
        ctx.__tap = a;
        ctx.__peak = sp;
        window.__audioOut = a;
      }
      connect.call(this, ctx.__tap);
    }
    return r;
  };
}

/** audioOutPeak returns the largest output sample magnitude since the previous call (0 for true silence). */
export function audioOutPeak() {
  const p = window.__audioPeak ?? 0;
  window.__audioPeak = 0;
  return p;
}

/**
 * audioOut reads the tap of tapAudioOutput: the context's state and clock, the RMS (dBFS) of the latest window and
 * the spectrum's peak (dB, -200 for silence) within a few bins of each frequency in freqs.
 */
export function audioOut(freqs) {
  const a = window.__audioOut;
  if (!a) return null;
  const spec = new Float32Array(a.frequencyBinCount);
  a.getFloatFrequencyData(spec);
  const wave = new Float32Array(a.fftSize);
  a.getFloatTimeDomainData(wave);
  let sum = 0;
  for (const v of wave) sum += v * v;
  const rms = Math.sqrt(sum / wave.length);
  const bin = a.context.sampleRate / a.fftSize;
  const clamp = (db) => (Number.isFinite(db) ? Math.max(-200, Math.round(db)) : -200);
  const peaks = {};
  for (const f of freqs) {
    const c = Math.round(f / bin);
    let m = -Infinity;
    for (let i = Math.max(0, c - 3); i <= Math.min(spec.length - 1, c + 3); i++) m = Math.max(m, spec[i]);
    peaks[f] = clamp(m);
  }
  return {
    state: a.context.state,
    time: Math.round(a.context.currentTime * 10) / 10,
    rmsDb: clamp(rms > 0 ? 20 * Math.log10(rms) : -Infinity),
    peaks,
  };
}

/**
 * meterState reads a level meter canvas as a person sees it: the filled fraction (opaque pixels of the middle row)
 * and the fill's colour, named after the engine's palette (green: heard, slate: not heard, yellow/red: loud).
 */
export function meterState(selector) {
  const cv = document.querySelector(selector);
  if (!cv) return null;
  const g = cv.getContext("2d");
  const d = g.getImageData(0, Math.floor(cv.height / 2), cv.width, 1).data;
  let filled = 0;
  for (let x = 0; x < cv.width; x++) if (d[x * 4 + 3] > 200) filled++;
  const names = { green: [34, 197, 94], slate: [100, 116, 139], yellow: [234, 179, 8], red: [239, 68, 68] };
  let colour = null;
  if (filled > 0) {
    const p = [d[0], d[1], d[2]];
    let best = Infinity;
    for (const [n, c] of Object.entries(names)) {
      const dist = Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]);
      if (dist < best) [best, colour] = [dist, n];
    }
  }
  return { fill: Math.round((filled / cv.width) * 100) / 100, colour };
}

/**
 * watchStrip (in the page) records the demo guest's state strip (hack/guest/strip/strip.go) from every frame the
 * <video> at selector presents: on each requestVideoFrameCallback the strip's band (guest rows 580-599, scaled
 * from the video's size onto the guest's 800x600) is drawn to an 800x20 canvas and decoded there: 10x10 blocks,
 * the mean luminance of 5 pixels around each centre against 128, 17 bytes MSB first, magic 0xA5 and CRC-8.
 * Valid strips go to window.__strip.states as {seq, t (performance.now(): ms since the page began loading), x, y,
 * buttons, keys, lastKey, frame, clicks}; frames that hold no valid strip (BIOS and kernel text, other sizes, torn
 * or blurred frames) are counted in window.__strip.other. Calling it again for the same element changes nothing;
 * for another element (a re-mounted video) it starts over on that one, keeping the sequence numbers going.
 */
export function watchStrip(selector) {
  const video = document.querySelector(selector);
  if (!video) return false;
  const old = window.__strip;
  if (old?.video === video && old.live) return true;
  if (old) old.live = false;
  const rec = {
    video,
    live: true,
    seq: old?.seq ?? 0,
    states: [],
    frames: 0,
    other: 0,
    firstAt: old?.firstAt ?? null,
    sizes: {},
  };
  window.__strip = rec;
  const c = document.createElement("canvas");
  c.width = 800;
  c.height = 20;
  const g = c.getContext("2d", { willReadFrequently: true });
  const crc8 = (bytes) => {
    let v = 0;
    for (const b of bytes) {
      v ^= b;
      for (let i = 0; i < 8; i++) v = v & 0x80 ? ((v << 1) ^ 0x07) & 0xff : (v << 1) & 0xff;
    }
    return v;
  };
  const decode = () => {
    const w = video.videoWidth;
    const h = video.videoHeight;
    rec.sizes[`${w}x${h}`] = (rec.sizes[`${w}x${h}`] ?? 0) + 1;
    if (!w || Math.abs((h * 800) / w - 600) > 2) return null; // not the guest's 4:3 screen
    const s = w / 800;
    g.drawImage(video, 0, 580 * s, 800 * s, 20 * s, 0, 0, 800, 20);
    const d = g.getImageData(0, 0, 800, 20).data;
    const lum = (x, y) => {
      const i = (y * 800 + x) * 4;
      return 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    };
    const b = new Uint8Array(17);
    for (let i = 0; i < 17 * 8; i++) {
      const cx = 10 * (i % 80) + 5;
      const cy = 10 * Math.floor(i / 80) + 5;
      let sum = 0;
      for (const [dx, dy] of [[0, 0], [-2, -2], [2, -2], [-2, 2], [2, 2]]) sum += lum(cx + dx, cy + dy);
      if (sum / 5 >= 128) b[i >> 3] |= 0x80 >> (i & 7);
    }
    if (b[0] !== 0xa5 || crc8(b.subarray(1, 16)) !== b[16]) return null;
    const v = new DataView(b.buffer);
    return {
      x: v.getUint16(1),
      y: v.getUint16(3),
      buttons: b[5],
      keys: v.getUint16(6),
      lastKey: v.getUint16(8),
      frame: v.getUint32(10),
      clicks: v.getUint16(14),
    };
  };
  const onFrame = () => {
    if (!rec.live) return;
    if (!video.isConnected) {
      rec.live = false;
      return;
    }
    rec.frames++;
    const st = decode();
    if (st) {
      const t = Math.round(performance.now());
      rec.firstAt ??= t;
      rec.states.push({ seq: ++rec.seq, t, ...st });
      if (rec.states.length > 5000) rec.states.splice(0, 1000);
    } else rec.other++;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  return true;
}

/** stripSince returns the strips watchStrip recorded after sequence number since, and its counters. */
export function stripSince(since) {
  const r = window.__strip;
  if (!r) return null;
  return {
    live: r.live,
    frames: r.frames,
    other: r.other,
    firstAt: r.firstAt,
    sizes: r.sizes,
    states: r.states.filter((s) => s.seq > since),
  };
}

/**
 * tapTone (a page init script; arg: a frequency in Hz) measures a tone in what the page sends to its speakers:
 * every connection into an AudioContext's destination is also made into one ScriptProcessor per context, which
 * for every block of 1024 samples computes the amplitude of freq (Goertzel, 0..1 of full scale) and the block's
 * RMS, keeping the largest of each since the last toneOutPeak (window.__tone). It changes nothing the page hears
 * (the processor outputs silence).
 */
export function tapTone(freq) {
  const connect = AudioNode.prototype.connect;
  window.__tone = { amp: 0, rms: 0, blocks: 0 };
  AudioNode.prototype.connect = function (dest, ...rest) {
    const r = connect.call(this, dest, ...rest);
    if (dest instanceof AudioDestinationNode) {
      const ctx = this.context;
      if (!ctx.__toneTap) {
        const sp = ctx.createScriptProcessor(1024, 2, 2);
        const coeff = 2 * Math.cos((2 * Math.PI * freq) / ctx.sampleRate);
        sp.onaudioprocess = (e) => {
          const n = e.inputBuffer.length;
          const chans = [...Array(e.inputBuffer.numberOfChannels).keys()].map((c) => e.inputBuffer.getChannelData(c));
          let s1 = 0, s2 = 0, sum = 0;
          for (let i = 0; i < n; i++) {
            let v = 0;
            for (const ch of chans) v += ch[i];
            v /= chans.length;
            sum += v * v;
            const s0 = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
          }
          const amp = (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2))) / n;
          const t = window.__tone;
          t.blocks++;
          t.amp = Math.max(t.amp, amp);
          t.rms = Math.max(t.rms, Math.sqrt(sum / n));
        };
        connect.call(sp, ctx.destination); // a ScriptProcessor runs only while connected to the destination
        ctx.__toneTap = sp;
      }
      connect.call(this, ctx.__toneTap);
    }
    return r;
  };
}

/** toneOutPeak returns tapTone's largest tone amplitude and block RMS since the previous call, and resets them. */
export function toneOutPeak() {
  const t = window.__tone;
  if (!t) return null;
  const r = { amp: Math.round(t.amp * 1e4) / 1e4, rms: Math.round(t.rms * 1e4) / 1e4, blocks: t.blocks };
  t.amp = 0;
  t.rms = 0;
  return r;
}

/**
 * meterPeak (in the page) watches a level meter canvas (meterState) on every animation frame for ms
 * milliseconds and returns the largest fill it showed.
 */
export async function meterPeak({ selector, ms }) {
  const cv = document.querySelector(selector);
  if (!cv) return null;
  const g = cv.getContext("2d");
  let most = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const d = g.getImageData(0, Math.floor(cv.height / 2), cv.width, 1).data;
    let filled = 0;
    for (let x = 0; x < cv.width; x++) if (d[x * 4 + 3] > 200) filled++;
    most = Math.max(most, filled / cv.width);
    await new Promise((r) => requestAnimationFrame(r));
  }
  return Math.round(most * 100) / 100;
}
