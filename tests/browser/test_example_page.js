#!/usr/bin/env node
/*
 * tests/browser/test_example_page.js: examples/web/ in headless Chromium with the real @flashphoner/websdk,
 * against a stand-in for WCS's WebSocket (its first exchanges), driven over the DevTools protocol.
 *
 * usage: node test_example_page.js SOURCE_DIR NODE_MODULES OUT_DIR [CHROMIUM]
 *
 * Everything listens on 127.0.0.1 only. The page is served as a site owner serves it after step 1 of
 * examples/web/README.md (WCS_URL and the flashphoner.js URL pointed at "WCS"); the SDK is the npm package's
 * flashphoner.js. The stand-in speaks WCS's protocol ({"message": ..., "data": [...]}) and plays:
 *   1. the first session: the page's "connection" is refused as WCS refuses it when the REST hook answers
 *      403 {"status":403,"reason":"origin not allowed"}: a "fail" message (ConnectionStatusEvent) with that
 *      reason, then the socket is closed. The page must show the reason and keep the Call button usable.
 *   2. a click on Call reconnects: the second "connection" is accepted (getUserData without any sip* field,
 *      as callhook's restClientConfig keeps them from the browser, then "registered"), the page places its
 *      call, and the "call" is refused the same way ("closed: outside opening hours").
 * Checked: no JavaScript exception or console error; what the page sends names the button and carries no SIP
 * account and no callee; both reasons are shown. Screenshots go to OUT_DIR. Exit 0 pass, 1 fail, 77 skip.
 */
"use strict";

const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { spawn } = require("child_process");

const [SRC, NODE_MODULES, OUT_DIR, CHROMIUM = "/usr/bin/chromium"] = process.argv.slice(2);
if (!SRC || !NODE_MODULES || !OUT_DIR) {
  console.error("usage: test_example_page.js SOURCE_DIR NODE_MODULES OUT_DIR [CHROMIUM]");
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(`${CHROMIUM} not found: install chromium (scripts/deps.sh --test)`);
  process.exit(77);
}
const WebSocket = require(path.join(NODE_MODULES, "ws"));
const SDK = path.join(NODE_MODULES, "@flashphoner/websdk/flashphoner.js");

const WEB = path.join(SRC, "examples/web");
const WCS_URL_IN_PAGE = "wss://wcs.example.com:8443";
const SDK_URL_IN_PAGE = "https://wcs.example.com:8444/client2/flashphoner.js";
const CONNECT_REASON = "origin not allowed";
const CALL_REASON = "closed: outside opening hours";
const SIP_ACCOUNT = /^(sip|login$|password$|authenticationName$|outboundProxy$)/i;

const failures = [];
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
  return ok;
}

/* ---- the stand-in for WCS's WebSocket ---- */
function startWcs() {
  const wss = new WebSocket.WebSocketServer({ host: "127.0.0.1", port: 0 });
  const received = []; /* [{conn, message, data}] in order */
  let conns = 0;
  wss.on("connection", (ws) => {
    const conn = ++conns;
    const send = (message, obj) => ws.send(JSON.stringify({ message, data: [obj] }));
    ws.on("message", (raw) => {
      let m;
      try {
        m = JSON.parse(String(raw));
      } catch (e) {
        received.push({ conn, message: "<not JSON>", data: String(raw) });
        return;
      }
      const data = Array.isArray(m.data) ? m.data[0] : undefined;
      if (m.message !== "ping" && m.message !== "pong") received.push({ conn, message: m.message, data });
      if (m.message === "connection" && conn === 1) {
        send("fail", { status: "FAILED", info: CONNECT_REASON, apiMethod: "ConnectionStatusEvent" });
        setTimeout(() => ws.close(), 100);
      } else if (m.message === "connection") {
        /* what WCS echoes back of the connection, minus the sip* fields clientExclude removes */
        send("getUserData", {
          appKey: data && data.appKey,
          authToken: "standin-token",
          mediaProviders: ["WebRTC"],
          custom: data && data.custom,
          sessionId: "/127.0.0.1:50000/127.0.0.1:8443-standin",
          status: "ESTABLISHED",
        });
        send("registered", { status: "REGISTERED" });
      } else if (m.message === "call") {
        send("fail", { status: "FAILED", info: CALL_REASON, apiMethod: "CallStatusEvent", id: data && data.callId });
        send("finish", { callId: data && data.callId, status: "FAILED", info: CALL_REASON });
      }
    });
  });
  return new Promise((resolve) => wss.on("listening", () => resolve({ wss, received, port: wss.address().port })));
}

/* ---- the site: examples/web after README step 1 ---- */
function startSite(wcsPort) {
  const index = fs.readFileSync(path.join(WEB, "index.html"), "utf8");
  const js = fs.readFileSync(path.join(WEB, "click-to-call.js"), "utf8");
  check(index.includes(SDK_URL_IN_PAGE), `index.html loads the SDK from ${SDK_URL_IN_PAGE} (README step 1)`);
  check(js.includes(`"${WCS_URL_IN_PAGE}"`), `click-to-call.js has WCS_URL "${WCS_URL_IN_PAGE}" (README step 1)`);
  const files = {
    "/index.html": ["text/html", index.split(SDK_URL_IN_PAGE).join("/sdk/flashphoner.js")],
    "/click-to-call.js": ["text/javascript", js.split(WCS_URL_IN_PAGE).join(`ws://127.0.0.1:${wcsPort}`)],
    "/sdk/flashphoner.js": ["text/javascript", fs.readFileSync(SDK)],
  };
  const served = [];
  const srv = http.createServer((req, res) => {
    const p = req.url.split("?")[0] === "/" ? "/index.html" : req.url.split("?")[0];
    served.push(p);
    const f = files[p];
    if (!f) {
      res.writeHead(p === "/favicon.ico" ? 204 : 404);
      res.end();
      return;
    }
    res.writeHead(200, { "Content-Type": f[0], "Cache-Control": "no-store" });
    res.end(f[1]);
  });
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () => resolve({ srv, served, port: srv.address().port }))
  );
}

/* ---- Chromium over the DevTools protocol ---- */
async function startChromium(profile) {
  const args = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", /* a microphone without a prompt */
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
    `--user-data-dir=${profile}`, "--window-size=800,600", "about:blank",
  ];
  const proc = spawn(CHROMIUM, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const portFile = path.join(profile, "DevToolsActivePort");
  for (let i = 0; i < 300 && !fs.existsSync(portFile); i++) {
    if (proc.exitCode !== null) throw new Error(`chromium exited ${proc.exitCode}: ${stderr}`);
    await sleep(100);
  }
  const [port, wsPath] = fs.readFileSync(portFile, "utf8").trim().split("\n");
  if (!port || !wsPath) throw new Error(`no DevTools port from chromium: ${stderr}`);
  const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  let next = 0;
  const pending = new Map();
  const listeners = [];
  ws.on("message", (raw) => {
    const m = JSON.parse(String(raw));
    if (m.id && pending.has(m.id)) {
      const { resolve, reject } = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) reject(new Error(`${m.error.message} ${m.error.data || ""}`));
      else resolve(m.result);
    } else if (m.method) {
      for (const l of listeners) l(m);
    }
  });
  const send = (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
    });
  return { proc, ws, send, listeners, stderr: () => stderr };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function main() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "callhook-chromium-"));
  let wcs, site, cr;
  try {
    wcs = await startWcs();
    site = await startSite(wcs.port);
    cr = await startChromium(profile);
    const { targetId } = await cr.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cr.send("Target.attachToTarget", { targetId, flatten: true });
    const page = (method, params) => cr.send(method, params, sessionId);
    const errors = [];
    cr.listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === "Runtime.exceptionThrown") {
        const d = m.params.exceptionDetails;
        errors.push(`exception: ${(d.exception && d.exception.description) || d.text} at ${d.url}:${d.lineNumber}`);
      } else if (m.method === "Runtime.consoleAPICalled" && (m.params.type === "error" || m.params.type === "assert")) {
        errors.push(`console.${m.params.type}: ${m.params.args.map((a) => a.value ?? a.description).join(" ")}`);
      } else if (m.method === "Log.entryAdded" && m.params.entry.level === "error") {
        errors.push(`log: ${m.params.entry.text} ${m.params.entry.url || ""}`);
      }
    });
    await page("Runtime.enable");
    await page("Log.enable");
    await page("Page.enable");
    const evaluate = async (expr) => {
      const r = await page("Runtime.evaluate", { expression: expr, returnByValue: true });
      if (r.exceptionDetails) throw new Error(`evaluating ${expr}: ${r.exceptionDetails.text}`);
      return r.result.value;
    };
    const waitFor = async (expr, ms, what) => {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
        if (await evaluate(expr)) return true;
      }
      return check(false, `${what} (within ${ms} ms; status: ${JSON.stringify(await evaluate(STATUS))})`);
    };
    const shot = async (name) => {
      const { data } = await page("Page.captureScreenshot", { format: "png" });
      const f = path.join(OUT_DIR, name);
      fs.writeFileSync(f, Buffer.from(data, "base64"));
      console.log(`screenshot: ${f}`);
    };
    const STATUS = 'document.getElementById("status").textContent';
    const CALL_ENABLED = '!document.getElementById("callBtn").disabled';

    await page("Page.navigate", { url: `http://127.0.0.1:${site.port}/index.html` });
    await waitFor('document.readyState === "complete"', 10000, "the page loads");
    check(await evaluate('typeof Flashphoner === "object" && typeof Flashphoner.createSession === "function"'),
      "the Web SDK from npm is loaded (window.Flashphoner)");

    /* 1. the refused connect */
    /* WARN shows the reason at once; the closed session must not replace it */
    const connectShown = `${STATUS}.indexOf(${JSON.stringify("Could not connect: " + CONNECT_REASON)}) >= 0`;
    if (await waitFor(connectShown, 10000, `"Could not connect: ${CONNECT_REASON}" is shown`)) {
      check(true, `the connect refusal is shown: ${JSON.stringify(await evaluate(STATUS))}`);
    }
    check(await evaluate('document.getElementById("status").className === "error"'), "it is shown as an error");
    check(await waitFor(CALL_ENABLED, 5000, "the Call button is enabled after the refusal"),
      "the Call button is enabled after the refusal (a click reconnects)");
    await sleep(500);
    check(await evaluate(connectShown), "the reason stays after the session closed");
    await shot("example_page_connect_refused.png");

    /* 2. a click reconnects and calls; the call is refused */
    await evaluate('document.getElementById("callBtn").click()');
    if (await waitFor(`${STATUS}.indexOf(${JSON.stringify(CALL_REASON)}) >= 0`, 15000,
      `the call refusal "${CALL_REASON}" is shown`)) {
      check(true, `the call refusal is shown: ${JSON.stringify(await evaluate(STATUS))}`);
    }
    check(await waitFor(CALL_ENABLED, 5000, "the Call button is enabled after the failed call"),
      "the Call button is enabled again after the failed call");
    await shot("example_page_call_refused.png");

    /* what the page sent */
    const conn = wcs.received.filter((m) => m.message === "connection");
    const calls = wcs.received.filter((m) => m.message === "call");
    console.log(`received by the stand-in: ${wcs.received.map((m) => `${m.conn}:${m.message}`).join(" ")}`);
    check(conn.length === 2, `two connections (refused, then the click's): ${conn.length}`);
    check(calls.length === 1, `one call, on the second connection: ${calls.length}`);
    for (const m of conn) {
      check(m.data && m.data.custom && m.data.custom.button === "sales",
        `connection ${m.conn} names the button: custom ${JSON.stringify(m.data && m.data.custom)}`);
    }
    for (const m of calls) {
      check(m.conn === 2, "the call went over the new session");
      check(m.data.custom && m.data.custom.button === "sales",
        `the call names the button: custom ${JSON.stringify(m.data.custom)}`);
      check(!m.data.callee, `the call carries no callee: callee ${JSON.stringify(m.data.callee)}`);
      check(!m.data.caller, `the call carries no caller account: caller ${JSON.stringify(m.data.caller)}`);
    }
    for (const m of conn.concat(calls)) {
      const account = Object.keys(m.data || {}).filter((k) => SIP_ACCOUNT.test(k) && m.data[k]);
      const custom = Object.keys((m.data && m.data.custom) || {}).filter((k) => k !== "button");
      check(account.length === 0, `${m.conn}:${m.message} carries no SIP account field (${account.join(", ") || "none"})`);
      check(custom.length === 0, `${m.conn}:${m.message} custom holds only the button (${custom.join(", ") || "ok"})`);
      const text = JSON.stringify(m.data);
      check(!/10001|10002|10003|Password_123|sip\.example\.com/.test(text),
        `${m.conn}:${m.message} holds no number or account of examples/callhook.conf`);
    }
    check(site.served.includes("/sdk/flashphoner.js") && site.served.includes("/click-to-call.js"),
      `the page fetched the SDK and its script (${site.served.join(" ")})`);
    check(errors.length === 0, `no JavaScript error (${errors.length})`);
    for (const e of errors) console.log(`  ${e}`);
  } finally {
    if (cr) {
      try {
        await Promise.race([cr.send("Browser.close"), sleep(3000)]);
      } catch (e) { /* already gone */ }
      cr.ws.terminate();
      if (cr.proc.exitCode === null) {
        const gone = new Promise((r) => cr.proc.once("exit", r));
        await Promise.race([gone, sleep(3000)]);
        if (cr.proc.exitCode === null && cr.proc.signalCode === null) {
          try {
            process.kill(-cr.proc.pid, "SIGKILL");
          } catch (e) { /* gone */ }
          await gone;
        }
      }
      try {
        process.kill(-cr.proc.pid, "SIGKILL"); /* helpers of its process group (zygote, crashpad), if any are left */
      } catch (e) { /* none */ }
    }
    if (site) await new Promise((r) => site.srv.close(r));
    if (wcs) {
      for (const c of wcs.wss.clients) c.terminate();
      await new Promise((r) => wcs.wss.close(r));
    }
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => {
    console.log(failures.length ? `${failures.length} failure(s)` : "browser: the example page works in Chromium");
    process.exit(failures.length ? 1 : 0);
  },
  (e) => {
    console.log(`FAIL: ${e.stack || e}`);
    process.exit(1);
  }
);
