import { type KeyObject, sign } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { isProblem } from "../../../shared/problem.js";
import { encodePem } from "../../../shared/x509/pem.js";
import { parseCsr } from "../core/csr.js";
import { assembleCertificate, buildTbs, type LeafTemplate } from "../core/profile.js";
import { type FromThread, posted, received, type ToThread } from "./sign-wire.js";

/**
 * The crypto thread of threadSigner (signer-thread.ts): parses and verifies CSRs, and builds,
 * signs and encodes certificates, one message at a time, synchronously (it has nothing else to
 * do meanwhile). The intermediate's key comes in a "use" message before the first "sign" with
 * it; messages arrive in the order they were posted, so a rotation takes effect between two
 * signs exactly as the authority asked.
 */
const port = parentPort;
if (!port) throw new Error("sign-worker.js runs as a worker thread of serve");

let issuing: { key: KeyObject; template: LeafTemplate } | null = null;

function answer(m: Exclude<ToThread, { op: "use" }>): FromThread {
  try {
    if (m.op === "parse") return { id: m.id, csr: posted(parseCsr(m.der)) };
    if (!issuing) return { id: m.id, error: "no signing key was given to the crypto thread" };
    const { key, template } = issuing;
    const tbs = buildTbs(template, received(m.fields));
    const signature = sign(template.hash, tbs, { key, dsaEncoding: "der" });
    return { id: m.id, pem: encodePem("CERTIFICATE", assembleCertificate(template, tbs, signature)) };
  } catch (e) {
    if (isProblem(e)) return { id: m.id, problem: { kind: e.kind, detail: e.message, extra: e.extra } };
    return { id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

port.on("message", (m: ToThread) => {
  if (m.op === "use") issuing = { key: m.key, template: received(m.template) };
  else port.postMessage(answer(m));
});
