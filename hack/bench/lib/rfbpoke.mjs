// A second RFB client that only moves the pointer: on the *still* scene the synthetic server paints (and stamps) a
// new frame only when the pointer marker moves, so poking it now and then gives still-screen latency samples.
import net from 'node:net';

/** pointerPoker connects to host:port, and every everyMs moves the pointer to the next spot. Returns stop(). */
export function pointerPoker(port, everyMs = 200, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    let stage = 'version';
    let buf = Buffer.alloc(0);
    let timer;
    const stop = () => { clearInterval(timer); s.destroy(); };
    s.on('error', (err) => { clearInterval(timer); if (stage !== 'running') reject(err); });
    s.on('data', (chunk) => {
      if (stage === 'running') return; // updates are never requested; anything else is ignored
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'version' && buf.length >= 12) {
        s.write('RFB 003.008\n');
        buf = buf.subarray(12);
        stage = 'security';
      }
      if (stage === 'security' && buf.length >= 1) {
        const n = buf[0];
        if (n === 0 || buf.length < 1 + n) return;
        if (![...buf.subarray(1, 1 + n)].includes(1)) { reject(new Error('VNC server wants authentication')); stop(); return; }
        s.write(Buffer.from([1]));
        buf = buf.subarray(1 + n);
        stage = 'result';
      }
      if (stage === 'result' && buf.length >= 4) {
        if (buf.readUInt32BE(0) !== 0) { reject(new Error('VNC security handshake failed')); stop(); return; }
        s.write(Buffer.from([1])); // ClientInit: shared
        buf = buf.subarray(4);
        stage = 'init';
      }
      if (stage === 'init' && buf.length >= 24) {
        const nameLen = buf.readUInt32BE(20);
        if (buf.length < 24 + nameLen) return;
        const w = buf.readUInt16BE(0);
        const h = buf.readUInt16BE(2);
        stage = 'running';
        let i = 0;
        timer = setInterval(() => {
          i++;
          const x = 100 + ((i * 37) % Math.max(1, w - 200));
          const y = 100 + ((i * 23) % Math.max(1, h - 200));
          const m = Buffer.alloc(6);
          m[0] = 5; m[1] = 0; m.writeUInt16BE(x, 2); m.writeUInt16BE(y, 4);
          s.write(m);
        }, everyMs);
        resolve(stop);
      }
    });
  });
}
