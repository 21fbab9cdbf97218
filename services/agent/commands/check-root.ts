import { certificatesFromPem, encodePem, fingerprint } from "../../../shared/x509/pem.js";
import { nextRoots } from "../actions/root-set.js";
import { trust } from "../actions/trust.js";
import { trustEnvironment } from "../config.js";
import type { TrustRecord } from "../state.js";
import { type AgentContext, clientFor } from "./context.js";

/**
 * Does the CA still serve a root the agent trusts? The daemon runs this once a day as a child
 * process. After `certyard-ca rotate root` it adopts the new root when a cross-certificate links
 * it to a trusted one (actions/root-set.ts), installs it beside the old one everywhere `trust`
 * wrote (trust.json), and takes the old one out of there only once it has expired. A root with
 * no such link is reported and never adopted: re-pinning is a decision for a person
 * (certyard-agent bootstrap), not for a timer. A failure is said once, as an error event on
 * stderr; success once, as the result line on stdout.
 */
export async function checkRoot(ctx: AgentContext): Promise<{ ok: boolean; message: string }> {
  const { ca, client } = clientFor(ctx);
  let served: Awaited<ReturnType<typeof client.root>>;
  try {
    served = await client.root();
  } catch (err) {
    const message = `FAILED: cannot fetch the root from the CA: ${(err as Error).message}`;
    ctx.log.error({ url: ca.url }, message);
    return { ok: false, message };
  }
  // the pin in ca.json is what counts: a root.pem that does not hold it is trusted for nothing
  const pinnedHeld = certificatesFromPem(ca.rootPem).some((d) => fingerprint(d) === ca.fingerprint);
  const next = nextRoots(pinnedHeld ? ca.rootPem : "", served, ctx.now());
  if (!next.ok) {
    const message = `MISMATCH: ${ca.url} serves the root ${next.served}, but ${ca.fingerprint} is pinned and no cross-certificate links them; the pinned one is kept (bootstrap again only if the CA was re-initialised on purpose)`;
    ctx.log.error({ url: ca.url, pinned: ca.fingerprint, served: next.served }, message);
    return { ok: false, message };
  }
  if (next.adopted.length === 0 && next.dropped.length === 0) {
    // The result line on stdout says it; the event is for --log-level debug.
    ctx.log.debug({ url: ca.url, fingerprint: next.current }, "the CA serves the pinned root");
    return { ok: true, message: `ok: ${ca.url} serves the pinned root ${next.current}` };
  }
  try {
    for (const record of ctx.home.trustRecords()) reinstall(record, ca.rootPem, next.pem, next.dropped);
  } catch (err) {
    // nothing saved: the next check tries again
    const message = `FAILED: the CA rotated its root to ${next.current}, but installing it where trust wrote failed: ${(err as Error).message}`;
    ctx.log.error({ url: ca.url }, message);
    return { ok: false, message };
  }
  ctx.home.saveCa({ url: ca.url, fingerprint: next.current }, next.pem);
  const said = [
    ...next.adopted.map((f) => `trusts the new root ${f} (cross-signed)`),
    ...next.dropped.map((f) => `no longer trusts the expired root ${f}`),
  ].join("; ");
  const where = ctx.home.trustRecords().length ? ", where trust installed the root too" : "";
  ctx.log.info({ url: ca.url, adopted: next.adopted, dropped: next.dropped }, "root rotation followed");
  return { ok: true, message: `ok: ${ca.url} rotated its root: ${said}${where}` };
}

/**
 * `trust` again for one record, with the new set of roots; then, for roots that expired, what
 * the install pass does not replace: their NSS nicknames and Java aliases, and the OS store's
 * file when its name (after the first root) changed.
 */
function reinstall(record: TrustRecord, before: string, after: string, dropped: string[]): void {
  const env = trustEnvironment();
  const tools = { pathEnv: env.pathEnv, userHome: record.userHome ?? env.userHome };
  trust({ ...record, rootPem: after }, tools);
  if (dropped.length === 0) return;
  const expired = certificatesFromPem(before)
    .filter((d) => dropped.includes(fingerprint(d)))
    .map((d) => encodePem("CERTIFICATE", d))
    .join("");
  if (record.nss || record.java) {
    trust(
      {
        registries: [],
        nss: record.nss,
        java: record.java,
        javaKeystore: record.javaKeystore,
        rootPem: expired,
        remove: true,
      },
      tools,
    );
  }
  const first = (pem: string) => fingerprint(certificatesFromPem(pem)[0] as Uint8Array);
  if (record.system && first(before) !== first(after)) {
    trust({ registries: [], system: true, rootPem: before, remove: true }, tools);
  }
}
