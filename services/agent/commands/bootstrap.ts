import { decodeJoin } from "../../../shared/join.js";
import { httpsUrl } from "../../../shared/url.js";
import { certificatesFromPem, fingerprint, normalizeFingerprint } from "../../../shared/x509/pem.js";
import { fetchPinnedRoot } from "../issuers/ca-client.js";
import type { AgentHome } from "../state.js";

/**
 * Pins the CA: fetches its root, compares it with the fingerprint the user copied, and stores
 * URL and root in the home. Later calls trust only that root.
 */
export async function bootstrap(
  home: AgentHome,
  url: string,
  expectedFingerprint: string,
  what = "--ca",
): Promise<string> {
  httpsUrl(url, what, "https://ca.lan:8443");
  const base = url.trim().replace(/\/$/, "");
  const fp = normalizeFingerprint(expectedFingerprint);
  if (home.isBootstrapped()) {
    const current = home.ca();
    if (current.url === base && current.fingerprint === fp) return fp;
  }
  const rootPem = await fetchPinnedRoot(base, fp);
  const der = certificatesFromPem(rootPem)[0];
  if (!der || fingerprint(der) !== fp)
    throw new Error("the root changed during bootstrap; nothing was stored");
  home.saveCa({ url: base, fingerprint: fp }, rootPem);
  return fp;
}

/** A join string bootstraps the home (if needed) and yields the token it carries. */
export async function bootstrapFromJoin(home: AgentHome, joinString: string): Promise<string> {
  const j = decodeJoin(joinString);
  if (home.isBootstrapped() && home.ca().fingerprint !== j.fingerprint) {
    throw new Error(
      `${home.dir} already trusts another CA (root ${home.ca().fingerprint}); use another --home`,
    );
  }
  await bootstrap(home, j.url, j.fingerprint, "the join string's CA URL");
  return j.token;
}
