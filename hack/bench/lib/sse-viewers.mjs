// Child process of the broker-scale benchmark: opens N Server-Sent Events streams on BASE/api/events and counts the
// events (blank-line separated blocks) without parsing them, so the viewers keep up and never starve the simulated
// agents in the parent. Answers {connected, errors, events, closed} to any IPC message; closed counts streams the
// broker ended (a viewer cut off for falling behind is not replaced).
import http from 'node:http';

const [base, nArg] = process.argv.slice(2);
const n = Number(nArg);
const counts = { connected: 0, errors: 0, events: 0, closed: 0 };
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
for (let i = 0; i < n; i++) {
  const req = http.get(`${base}/api/events`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) { counts.errors++; res.resume(); return; }
    counts.connected++;
    let prevNL = false;
    res.on('data', (chunk) => {
      // Count "\n\n" boundaries, including one split across chunks.
      let from = 0;
      if (prevNL && chunk[0] === 10) { counts.events++; from = 1; }
      for (let j = chunk.indexOf(10, from); j >= 0; j = chunk.indexOf(10, j + 1)) {
        if (chunk[j + 1] === 10) { counts.events++; j++; }
      }
      prevNL = chunk[chunk.length - 1] === 10;
    });
    res.on('error', () => {});
    res.on('close', () => { counts.closed++; }); // the broker cut this viewer off (it does not reconnect)
  });
  req.on('error', () => { counts.errors++; });
}
process.on('message', () => process.send(counts));
process.on('disconnect', () => process.exit(0));
