// AudioEngine routes every session's audio through WebAudio: source -> analyser (meter) -> gain
// (volume, mute, focus) -> speakers. Meters are drawn on canvases in one animation loop, outside
// React. While an instance is focused only it is heard (unless muted by hand); in the grid each
// tile's own mute and volume apply, and tiles start muted.

interface Chain {
  stream: MediaStream;
  source: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
  gain: GainNode;
}

export interface AudioSettings {
  /** Set by the user; unset means the default (muted in the grid, heard when focused). */
  muted?: boolean;
  volume: number;
}

export class AudioEngine {
  private ctx?: AudioContext;
  private chains = new Map<string, Chain>();
  private meters = new Map<string, Set<HTMLCanvasElement>>();
  private settings = new Map<string, AudioSettings>();
  private focus: string | null = null;
  private raf = 0;
  private buf = new Float32Array(512);
  private listeners = new Set<() => void>();
  /** Smoothed level per instance, 0..1, for the meters. */
  private levels = new Map<string, number>();
  /** What each canvas shows now (level in percent and heard), to skip identical repaints. */
  private drawn = new WeakMap<HTMLCanvasElement, number>();

  private context(): AudioContext {
    if (!this.ctx) this.ctx = new AudioContext();
    return this.ctx;
  }

  /** resume is called from a user gesture (autoplay policy). */
  resume(): void {
    void this.ctx?.resume();
  }

  get running(): boolean {
    return this.ctx?.state === "running";
  }

  /** attach routes a stream's audio; a new stream for the same id replaces the old chain. */
  attach(id: string, stream: MediaStream | null): void {
    const old = this.chains.get(id);
    if (old && old.stream === stream) return;
    if (old) {
      old.source.disconnect();
      old.gain.disconnect();
      this.chains.delete(id);
    }
    if (!stream || stream.getAudioTracks().length === 0) return;
    const ctx = this.context();
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    const gain = ctx.createGain();
    // Start at the instance's gain: a GainNode starts at 1, and ramping down from there let a muted tile's first
    // tens of milliseconds reach the speakers whenever its stream (re)connected.
    gain.gain.value = this.effectiveGain(id);
    source.connect(analyser);
    analyser.connect(gain);
    gain.connect(ctx.destination);
    this.chains.set(id, { stream, source, analyser, gain });
    this.ensureLoop();
  }

  detach(id: string): void {
    this.attach(id, null);
    this.levels.delete(id);
  }

  /** retainOnly detaches every chain whose instance is not in ids (sessions the pool has closed). */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of [...this.chains.keys()]) if (!ids.has(id)) this.detach(id);
  }

  /** attachedIds lists the instances whose audio is routed now. */
  attachedIds(): string[] {
    return [...this.chains.keys()];
  }

  /** getSettings returns a stable object per instance (React's useSyncExternalStore compares by identity). */
  getSettings(id: string): AudioSettings {
    let s = this.settings.get(id);
    if (!s) this.settings.set(id, (s = { volume: 0.8 }));
    return s;
  }

  set(id: string, s: Partial<AudioSettings>): void {
    this.settings.set(id, { ...this.getSettings(id), ...s });
    this.applyGain(id);
    this.emit();
  }

  /** toggleMute mutes an instance that is heard now, and unmutes one that is not. */
  toggleMute(id: string): void {
    this.set(id, { muted: this.heard(id) });
  }

  setFocus(id: string | null): void {
    this.focus = id;
    for (const k of this.chains.keys()) this.applyGain(k);
    this.emit();
  }

  /** heard says whether an instance is audible now. */
  heard(id: string): boolean {
    return this.effectiveGain(id) > 0;
  }

  private effectiveGain(id: string): number {
    const s = this.getSettings(id);
    if (this.focus !== null) return id === this.focus && s.muted !== true ? s.volume : 0;
    return (s.muted ?? true) ? 0 : s.volume;
  }

  private applyGain(id: string): void {
    const c = this.chains.get(id);
    if (c && this.ctx) c.gain.gain.setTargetAtTime(this.effectiveGain(id), this.ctx.currentTime, 0.02);
  }

  addMeter(id: string, canvas: HTMLCanvasElement): () => void {
    let set = this.meters.get(id);
    if (!set) this.meters.set(id, (set = new Set()));
    set.add(canvas);
    this.ensureLoop();
    return () => {
      set.delete(canvas);
      if (set.size === 0) this.meters.delete(id);
    };
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const fn of [...this.listeners]) fn();
  }

  private ensureLoop(): void {
    if (this.raf) return;
    const loop = () => {
      this.raf = 0;
      if (this.meters.size === 0 && this.chains.size === 0) return;
      this.draw();
      this.raf = requestAnimationFrame(loop);
    };
    this.raf = requestAnimationFrame(loop);
  }

  /** level returns the RMS of the latest analyser window, 0..1. */
  level(id: string): number {
    return this.levels.get(id) ?? 0;
  }

  private draw(): void {
    for (const [id, canvases] of this.meters) {
      const c = this.chains.get(id);
      let rms = 0;
      if (c) {
        c.analyser.getFloatTimeDomainData(this.buf);
        let sum = 0;
        for (let i = 0; i < this.buf.length; i++) sum += this.buf[i] * this.buf[i];
        rms = Math.sqrt(sum / this.buf.length);
      }
      // dBFS mapped to 0..1 over -60..0 dB, with a quick attack and slow release.
      const db = rms > 0 ? 20 * Math.log10(rms) : -100;
      const target = Math.min(1, Math.max(0, (db + 60) / 60));
      const prev = this.levels.get(id) ?? 0;
      const lvl = target > prev ? target : prev * 0.92 + target * 0.08;
      this.levels.set(id, lvl);
      // Repaint only what changed: an idle meter costs no paint (and no compositor frame) at all.
      const heard = this.heard(id);
      const key = Math.round(lvl * 100) * 2 + (heard ? 1 : 0);
      for (const cv of canvases) {
        if (this.drawn.get(cv) === key) continue;
        this.drawn.set(cv, key);
        drawMeter(cv, lvl, heard);
      }
    }
  }
}

function drawMeter(cv: HTMLCanvasElement, level: number, heard: boolean): void {
  const g = cv.getContext("2d");
  if (!g) return;
  const w = cv.width;
  const h = cv.height;
  g.clearRect(0, 0, w, h);
  g.fillStyle = "rgba(255,255,255,0.15)";
  g.fillRect(0, 0, w, h);
  const filled = Math.round(level * w);
  g.fillStyle = level > 0.9 ? "#ef4444" : level > 0.7 ? "#eab308" : heard ? "#22c55e" : "#64748b";
  g.fillRect(0, 0, filled, h);
}
