import assert from "node:assert/strict";
import { type Socket, connect as tcpConnect } from "node:net";
import { after, before, describe, test } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { startCa, type TestCa } from "../helpers/ca.js";

/** Resolves with how long the socket stayed open once it closes; fails after `boundMs`. */
function closed(socket: Socket, boundMs: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${boundMs} ms`));
    }, boundMs);
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(bound);
      resolve(Date.now() - start);
    });
  });
}

function tls(ca: TestCa): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: ca.port, ca: ca.rootPem, servername: "localhost" }, () =>
      resolve(s),
    );
    s.once("error", reject);
  });
}

/** Connections that hold the server without doing their part are closed; their number is capped. */
describe("connection timeouts and cap", () => {
  let ca: TestCa;
  const HEAD_MS = 600;
  before(async () => {
    ca = await startCa({
      connections: {
        handshakeTimeoutMs: HEAD_MS,
        headersTimeoutMs: HEAD_MS,
        requestTimeoutMs: 2 * HEAD_MS,
        keepAliveTimeoutMs: HEAD_MS,
        checkIntervalMs: 100,
        maxConnections: 3,
      },
    });
  });
  after(() => ca.close());

  test("a connection that completes TLS and sends nothing is closed after the head timeout", async () => {
    const socket = await tls(ca);
    const openMs = await closed(socket, 10 * HEAD_MS);
    assert.ok(openMs >= HEAD_MS - 100, `closed after ${openMs} ms, before its head timeout`);
  });

  test("a TLS handshake that never completes is closed", async () => {
    const socket = tcpConnect({ host: "127.0.0.1", port: ca.port });
    await new Promise((resolve) => socket.once("connect", resolve));
    await closed(socket, 10 * HEAD_MS);
  });

  test("a request head sent a byte at a time is closed by the head timeout", async () => {
    const socket = await tls(ca);
    const head = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    socket.write(head);
    // keep sending header bytes, never the blank line that ends the head
    const drip = setInterval(() => socket.write("a"), 50);
    try {
      await closed(socket, 10 * HEAD_MS);
    } finally {
      clearInterval(drip);
    }
  });

  test("an idle keep-alive connection is closed after one request", async () => {
    const socket = await tls(ca);
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
    await closed(socket, 10 * HEAD_MS);
    assert.match(answer, /^HTTP\/1\.1 200 /);
  });

  test("connections beyond the cap are closed at once; the ones within it are served", async () => {
    const held = [await tls(ca), await tls(ca), await tls(ca)];
    try {
      const extra = tcpConnect({ host: "127.0.0.1", port: ca.port });
      await closed(extra, HEAD_MS / 2);
    } finally {
      for (const s of held) s.destroy();
    }
    await poll(async () => (await ca.request("/healthz")).status === 200);
  });
});

/** Polls `cond` until it holds, for at most two seconds. */
async function poll(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 2000;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // the server may still be closing the held connections
    }
    if (Date.now() > end) throw new Error("condition not met within 2 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}
