import { chromium } from "playwright-core";
import { freePort, chromiumArgs, sleep } from "./cluster.mjs";
import { spawn } from "node:child_process";
const http = await freePort(), grpc = await freePort();
const b = spawn("/tmp/e2ebin/loco-broker", ["--http-listen", `127.0.0.1:${http}`, "--grpc-listen", `127.0.0.1:${grpc}`, "--instances", Array.from({length: 11}, (_, i) => `loco-${i}`).join(","), "--recover", "off"], { stdio: "ignore" });
try {
await sleep(1000);
const br = await chromium.launch({ executablePath: "/usr/bin/chromium", args: chromiumArgs() });
const p = await br.newPage({ viewport: { width: 1280, height: 860 } });
p.on("console", (m) => console.log("console:", m.text()));
p.on("pageerror", (e) => console.log("pageerror:", e.message));
await p.goto(`http://127.0.0.1:${http}/`);
console.log(await p.content().then(c => c.slice(0, 400)));
await sleep(4000);
await p.screenshot({ path: "/tmp/ui-grid.png" });
await p.keyboard.press("Control+Digit2");
await sleep(1000);
await p.screenshot({ path: "/tmp/ui-focus.png" });
await p.keyboard.press("Escape");
await p.click('[data-testid="vr-toggle"]');
await sleep(5000);
await p.screenshot({ path: "/tmp/ui-vr.png" });
await br.close();
} finally { b.kill(); }
