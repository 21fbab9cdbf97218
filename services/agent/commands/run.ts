import { backoffMs } from "../schedule.js";
import { type AgentContext, clientFor } from "./context.js";
import { renewOne } from "./renew.js";

const MAX_SLEEP_MS = 3_600_000;
const ROOT_CHECK_MS = 24 * 3_600_000;

/**
 * The daemon: renews each certificate when due, retries failures with capped exponential
 * backoff, checks once a day that the CA still serves the pinned root, and stops cleanly on
 * SIGTERM or SIGINT.
 */
export async function runDaemon(ctx: AgentContext, signal: AbortSignal): Promise<void> {
  const failures = new Map<string, number>();
  const retryAt = new Map<string, number>();
  let nextRootCheck = 0;
  ctx.log.info({ home: ctx.home.dir }, "agent started");
  while (!signal.aborted) {
    const now = ctx.now();
    if (now >= nextRootCheck) nextRootCheck = now + ((await checkRoot(ctx)) ? ROOT_CHECK_MS : 60_000);
    let wake = now + MAX_SLEEP_MS;
    for (const m of ctx.home.list()) {
      const due = Math.max(Date.parse(m.renewAt), retryAt.get(m.name) ?? 0);
      if (due > now) {
        wake = Math.min(wake, due);
        continue;
      }
      try {
        await renewOne(ctx, m, false);
        failures.delete(m.name);
        retryAt.delete(m.name);
      } catch (err) {
        const n = (failures.get(m.name) ?? 0) + 1;
        failures.set(m.name, n);
        retryAt.set(m.name, ctx.now() + backoffMs(n));
        ctx.home.save({
          ...m,
          lastResult: { at: new Date().toISOString(), ok: false, message: (err as Error).message },
        });
        ctx.log.error(
          { name: m.name, attempt: n, retryInMs: backoffMs(n), err: (err as Error).message },
          "renewal failed",
        );
      }
      wake = Math.min(wake, ctx.now() + 1000);
    }
    await sleepUntil(wake, signal);
  }
  ctx.log.info("agent stopped");
}

/** Whether the check could be made (a different root is logged, not retried). */
async function checkRoot(ctx: AgentContext): Promise<boolean> {
  if (!ctx.home.isBootstrapped()) return true;
  try {
    const { ca, client } = clientFor(ctx);
    const root = await client.root();
    if (root.sha256 !== ca.fingerprint) {
      ctx.log.error(
        { pinned: ca.fingerprint, served: root.sha256 },
        "the CA serves a different root; keeping the pinned one",
      );
    } else ctx.log.info({ fingerprint: root.sha256 }, "root checked");
    return true;
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, "root check failed; retrying in a minute");
    return false;
  }
}

function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, Math.min(at - Date.now(), MAX_SLEEP_MS)));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
