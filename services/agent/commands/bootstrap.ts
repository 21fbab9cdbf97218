import { decodeJoin } from "../../../shared/join.js";
import { httpsUrl } from "../../../shared/url.js";
import { certificatesFromPem, fingerprint, normalizeFingerprint } from "../../../shared/x509/pem.js";
import { fetchPinnedRoot } from "../issuers/ca-client.js";
import type { AgentHome, CaRef } from "../state.js";

/** A CA whose root was fetched and checked against the fingerprint, not stored yet. */
export interface PinnedCa {
  ref: CaRef;
  rootPem: string;
}

/**
 * First contact with a CA: fetches its root and compares it with the fingerprint the user
 * copied; stores nothing. Null when the home already trusts this very CA at this URL.
 */
export async function pinCa(
  home: AgentHome,
  url: string,
  expectedFingerprint: string,
  what = "--ca",
): Promise<PinnedCa | null> {
  httpsUrl(url, what, "https://ca.lan:8443");
  const base = url.trim().replace(/\/$/, "");
  const fp = normalizeFingerprint(expectedFingerprint);
  if (home.isBootstrapped()) {
    const current = home.ca();
    if (current.url === base && current.fingerprint === fp) return null;
  }
  const rootPem = await fetchPinnedRoot(base, fp);
  const der = certificatesFromPem(rootPem)[0];
  if (!der || fingerprint(der) !== fp)
    throw new Error("the root changed during bootstrap; nothing was stored");
  return { ref: { url: base, fingerprint: fp }, rootPem };
}

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
  const pinned = await pinCa(home, url, expectedFingerprint, what);
  if (pinned) home.saveCa(pinned.ref, pinned.rootPem);
  return normalizeFingerprint(expectedFingerprint);
}

/**
 * What a join string brings: the CA it names, checked but not stored (null when the home
 * already trusts it there), and the token it carries. `cert --join` stores the CA only once the
 * certificate was obtained, so a failed enrolment leaves the home's CA as it was.
 */
export async function caFromJoin(
  home: AgentHome,
  joinString: string,
): Promise<{ pinned: PinnedCa | null; token: string }> {
  const j = decodeJoin(joinString);
  if (home.isBootstrapped()) {
    const ca = home.ca();
    // every root it trusts: after a root rotation, the one before too
    const trusted = certificatesFromPem(ca.rootPem).map((d) => fingerprint(d));
    if (!trusted.includes(j.fingerprint)) {
      throw new Error(
        `${home.dir} already trusts another CA (root ${ca.fingerprint}); if that CA rotated its root, run certyard-agent check-root first, else use another --home`,
      );
    }
    if (ca.url === j.url.trim().replace(/\/$/, "")) return { pinned: null, token: j.token };
  }
  return { pinned: await pinCa(home, j.url, j.fingerprint, "the join string's CA URL"), token: j.token };
}

/** A join string bootstraps the home (if needed) and yields the token it carries. */
export async function bootstrapFromJoin(home: AgentHome, joinString: string): Promise<string> {
  const { pinned, token } = await caFromJoin(home, joinString);
  if (pinned) home.saveCa(pinned.ref, pinned.rootPem);
  return token;
}
