import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { collectAll, isolateGc } from "../../../shared/gc.js";

describe("isolateGc", () => {
  test("collects what nothing references, without putting gc on this process's global", async () => {
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
    let target: object | null = { payload: new Array(1000).fill(1) };
    const ref = new WeakRef(target);
    target = null;
    // a WeakRef keeps its target alive until the end of the job that made or read it
    await nextTurn();
    collectAll(isolateGc());
    assert.equal(ref.deref(), undefined);
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
    assert.ok(!process.execArgv.includes("--expose-gc"), "no flag a child process would inherit");
  });
});
