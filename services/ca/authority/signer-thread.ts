import type { KeyObject } from "node:crypto";
import { Worker } from "node:worker_threads";
import { Problem } from "../../../shared/problem.js";
import type { LeafFields, LeafTemplate } from "../core/profile.js";
import { type FromThread, own, posted, received, type ToThread } from "./sign-wire.js";
import type { Signer } from "./signer.js";

export interface ThreadSigner extends Signer {
  /** the thread now serving, if one runs (tests terminate it to see a crash handled) */
  readonly thread: Worker | null;
}

/**
 * A Signer whose crypto runs in one worker_threads thread (sign-worker.ts), so the event loop
 * keeps only HTTP, TLS, the checks and the store: 31% less of its CPU per sign in session 12's
 * prototype (bench/README.md, "Using the second core"). Two messages per issuance (parse, sign).
 * The thread starts with the first request. When it dies (a crash, or terminate), the requests
 * it had fail with an Error (a 500 with a request id on the API: a request may have reached
 * the thread, so it is not redone) and the next request starts a new thread, which is given the
 * key again before its first signature. `onExit` hears of a thread that stopped unasked. rest()
 * stops a thread that has nothing to do (serve idling after a load): its V8 heap and isolate,
 * about 12 MiB PSS, go back, and the next request starts a thread again (its answer took
 * 107-617 ms at load average 15, against 1 ms with a thread running).
 */
export function threadSigner(onExit: (code: number, err: Error | null) => void = () => {}): ThreadSigner {
  type Pending = { resolve: (r: FromThread) => void; reject: (e: Error) => void };
  let current: {
    worker: Worker;
    pending: Map<number, Pending>;
    issuing: { key: KeyObject; template: LeafTemplate } | null;
    /** rest() stopped it: not a crash */
    resting: boolean;
  } | null = null;
  let nextId = 1;
  let closed = false;

  function start(): NonNullable<typeof current> {
    const worker = new Worker(new URL("./sign-worker.js", import.meta.url));
    // the thread never keeps serve alive; close() stops it
    worker.unref();
    const state = { worker, pending: new Map<number, Pending>(), issuing: null, resting: false };
    let crash: Error | null = null;
    worker.on("message", (r: FromThread) => {
      const p = state.pending.get(r.id);
      state.pending.delete(r.id);
      p?.resolve(r);
    });
    worker.on("error", (err) => {
      crash = err;
    });
    worker.on("exit", (code) => {
      if (current === state) current = null;
      const stopped = new Error(`the crypto thread stopped (exit code ${code})`, { cause: crash });
      for (const p of state.pending.values()) p.reject(stopped);
      state.pending.clear();
      if (!closed && !state.resting) onExit(code, crash);
    });
    return state;
  }

  function ask(m: ToThread & { id: number }): Promise<FromThread> {
    if (closed) return Promise.reject(new Error("the crypto thread is closed"));
    current ??= start();
    const { worker, pending } = current;
    return new Promise((resolve, reject) => {
      // posted first: a message that cannot be cloned throws here and leaves nothing pending
      worker.postMessage(m);
      pending.set(m.id, { resolve, reject });
    });
  }

  /** the thread's answer, or its Problem (a bad CSR) or failure thrown */
  function answered(r: FromThread): Exclude<FromThread, { problem: unknown } | { error: string }> {
    if ("problem" in r) throw new Problem(r.problem.kind, r.problem.detail, { extra: r.problem.extra });
    if ("error" in r) throw new Error(`the crypto thread failed: ${r.error}`);
    return r;
  }

  return {
    get thread() {
      return current?.worker ?? null;
    },
    async parseCsr(der) {
      const r = answered(await ask({ op: "parse", id: nextId++, der: own(der) }));
      if ("csr" in r) return received(r.csr);
      throw new Error("the crypto thread answered a parse with a certificate");
    },
    async certificate(template, key, fields: LeafFields) {
      if (closed) throw new Error("the crypto thread is closed");
      current ??= start();
      if (current.issuing?.key !== key || current.issuing.template !== template) {
        current.worker.postMessage({ op: "use", key, template: posted(template) } satisfies ToThread);
        current.issuing = { key, template };
      }
      const r = answered(await ask({ op: "sign", id: nextId++, fields: posted(fields) }));
      if ("pem" in r) return r.pem;
      throw new Error("the crypto thread answered a signature with a CSR");
    },
    rest() {
      if (!current || current.pending.size > 0) return;
      current.resting = true;
      void current.worker.terminate();
      // the next request starts another at once, beside this one's ending
      current = null;
    },
    async close() {
      closed = true;
      await current?.worker.terminate();
    },
  };
}
