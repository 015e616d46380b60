// Fakes of the browser's WebRTC objects for unit tests (Node has none).
export class FakeDC {
  readyState = "open";
  binaryType = "blob";
  sent: Uint8Array[] = [];
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onopen: (() => void) | null = null;
  send(m: Uint8Array) {
    this.sent.push(m);
  }
}
export class FakePC {
  static all: FakePC[] = [];
  connectionState = "new";
  iceGatheringState = "complete";
  localDescription: { sdp: string } | null = null;
  remote?: string;
  closed = false;
  dc = new FakeDC();
  ontrack: ((e: { track: unknown }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  constructor() {
    FakePC.all.push(this);
  }
  addTransceiver() {}
  createDataChannel() {
    return this.dc;
  }
  async createOffer() {
    return { type: "offer", sdp: "v=0 offer" };
  }
  async setLocalDescription(d: { sdp: string }) {
    this.localDescription = d;
  }
  async setRemoteDescription(d: { sdp: string }) {
    this.remote = d.sdp;
  }
  addEventListener() {}
  removeEventListener() {}
  async getStats() {
    return new Map();
  }
  close() {
    this.closed = true;
  }
  set(state: string) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

export class FakeStream {
  tracks: { stop: () => void }[] = [];
  addTrack(t: { stop: () => void }) {
    this.tracks.push(t);
  }
  getTracks() {
    return this.tracks;
  }
}

