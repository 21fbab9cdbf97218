import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { describe, test } from "node:test";
import { collectWhenIdle, GROWTH_BYTES, IdlePolicy } from "../../../../../services/ca/http/idle-memory.js";

const MiB = 1024 * 1024;

describe("IdlePolicy: when an idle server collects its garbage", () => {
  test("not while requests keep coming, then once, after the first quiet check", () => {
    const p = new IdlePolicy(40 * MiB);
    p.activity();
    assert.equal(p.tick(90 * MiB), false, "a request since the last check: busy");
    p.activity();
    p.activity();
    assert.equal(p.tick(90 * MiB), false, "still busy");
    assert.equal(p.tick(90 * MiB), true, "a whole check without a request, and grown");
    p.collected(45 * MiB);
    assert.equal(p.tick(90 * MiB), false, "nothing arrived since the collection");
  });

  test("not when the heap grew by less than GROWTH_BYTES since the last collection", () => {
    const p = new IdlePolicy(40 * MiB);
    p.activity();
    assert.equal(p.tick(40 * MiB), false);
    assert.equal(p.tick(40 * MiB + GROWTH_BYTES - 1), false, "a trickle that allocates little");
    p.activity();
    assert.equal(p.tick(40 * MiB + GROWTH_BYTES), false, "busy again");
    assert.equal(p.tick(40 * MiB + GROWTH_BYTES), true);
  });

  test("never before any activity (a server that was never asked anything)", () => {
    const p = new IdlePolicy(0);
    assert.equal(p.tick(500 * MiB), false);
    assert.equal(p.tick(500 * MiB), false);
  });

  test("grown is measured from after the last collection", () => {
    const p = new IdlePolicy(40 * MiB);
    p.activity();
    p.tick(100 * MiB);
    assert.equal(p.tick(100 * MiB), true);
    p.collected(60 * MiB);
    p.activity();
    p.tick(60 * MiB + GROWTH_BYTES - 1);
    assert.equal(p.tick(60 * MiB + GROWTH_BYTES - 1), false);
    p.activity();
    p.tick(60 * MiB + GROWTH_BYTES);
    assert.equal(p.tick(60 * MiB + GROWTH_BYTES), true);
  });
});

describe("collectWhenIdle", () => {
  test("counts a server's connections as activity, and stop() lets go of the server", async () => {
    const server = createServer((s) => s.end());
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const before = server.listenerCount("connection");
    const idle = collectWhenIdle(server, () => assert.fail("no collection within this test"), 3_600_000);
    assert.equal(server.listenerCount("connection"), before + 1);
    const address = server.address();
    assert.ok(address && typeof address === "object");
    const socket = connect(address.port, "127.0.0.1");
    await once(socket, "close");
    idle.stop();
    assert.equal(server.listenerCount("connection"), before);
    server.close();
    await once(server, "close");
  });
});
