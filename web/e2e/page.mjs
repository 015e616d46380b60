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
