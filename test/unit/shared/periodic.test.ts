import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import { every } from "../../../shared/periodic.js";

/** A promise and the function that settles it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** Lets settled promises' callbacks run (the mocked timers call back synchronously). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("every: periodic work, one run at a time", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setInterval"] }));
  afterEach(() => mock.timers.reset());

  test("turns that come while a run goes on are skipped, and the next turn after it runs", async () => {
    let runs = 0;
    let held = gate();
    const p = every(
      200,
      async () => {
        runs++;
        await held.wait;
      },
      (err) => assert.fail(String(err)),
    );
    mock.timers.tick(200);
    assert.equal(runs, 1);
    // a slow run: three turns pass while it goes on, and none starts a second run beside it
    mock.timers.tick(600);
    await settle();
    assert.equal(runs, 1);
    const first = held;
    held = gate();
    first.open();
    await settle();
    mock.timers.tick(200);
    assert.equal(runs, 2);
    held.open();
    await p.stop();
  });

  test("an error goes to onError and ends that run only", async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const p = every(
      100,
      () => {
        runs++;
        // thrown at once, not from a promise: the next turn must still run
        throw new Error(`run ${runs}`);
      },
      (err) => errors.push(err),
    );
    mock.timers.tick(100);
    await settle();
    mock.timers.tick(100);
    await settle();
    assert.equal(runs, 2);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ["run 1", "run 2"],
    );
    await p.stop();
  });

  test("runNow joins a run going on; stop waits for it and ends the turns", async () => {
    let runs = 0;
    const held = gate();
    const p = every(
      100,
      async () => {
        runs++;
        await held.wait;
      },
      (err) => assert.fail(String(err)),
    );
    const a = p.runNow();
    const b = p.runNow();
    assert.equal(runs, 1);
    let stopped = false;
    const stopping = p.stop().then(() => {
      stopped = true;
    });
    await settle();
    assert.equal(stopped, false, "stop waits for the run going on");
    held.open();
    await Promise.all([a, b, stopping]);
    mock.timers.tick(500);
    await p.runNow();
    assert.equal(runs, 1, "nothing runs after stop");
  });
});
