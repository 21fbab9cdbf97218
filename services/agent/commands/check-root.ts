import { certificatesFromPem, fingerprint } from "../../../shared/x509/pem.js";
import { type AgentContext, clientFor } from "./context.js";

/**
 * Does the CA still serve the root pinned at bootstrap? The daemon runs this once a day as a
 * child process. A different root is reported and never adopted: re-pinning is a decision for
 * a person (certyard-agent bootstrap), not for a timer. A failure is said once, as an error event
 * on stderr; success once, as the result line on stdout.
 */
export async function checkRoot(ctx: AgentContext): Promise<{ ok: boolean; message: string }> {
  const { ca, client } = clientFor(ctx);
  let served: string;
  try {
    const der = certificatesFromPem((await client.root()).pem)[0];
    served = der ? fingerprint(der) : "no certificate";
  } catch (err) {
    const message = `FAILED: cannot fetch the root from the CA: ${(err as Error).message}`;
    ctx.log.error({ url: ca.url }, message);
    return { ok: false, message };
  }
  if (served !== ca.fingerprint) {
    const message = `MISMATCH: ${ca.url} serves the root ${served}, but ${ca.fingerprint} is pinned; the pinned one is kept (bootstrap again only if the CA was re-initialised on purpose)`;
    ctx.log.error({ url: ca.url, pinned: ca.fingerprint, served }, message);
    return { ok: false, message };
  }
  // The result line on stdout says it; the event is for --log-level debug.
  ctx.log.debug({ url: ca.url, fingerprint: served }, "the CA serves the pinned root");
  return { ok: true, message: `ok: ${ca.url} serves the pinned root ${served}` };
}
