import type { Identifier } from "../../../../shared/acme/types.js";
import { dnsNameProblem, normalizeDns } from "../../../../shared/dns-name.js";
import { malformed, Problem, unsupportedIdentifier } from "../../../../shared/problem.js";
import { canonicalIp, ipFamily } from "../names.js";
import { allowedByPolicy, type Constraints, type Policy, withinConstraints } from "../policy.js";

/**
 * newOrder's identifiers (RFC 8555 7.4; RFC 8738 for "ip"), normalised, de-duplicated and
 * checked against the account's EAB policy and the intermediate's name constraints. Pure.
 */
export function checkIdentifiers(
  input: readonly { type: string; value: string }[],
  policy: Policy,
  constraints: Constraints,
): Identifier[] {
  if (input.length === 0) throw malformed("an order needs at least one identifier");
  if (input.length > 100) throw malformed("at most 100 identifiers per order");
  const seen = new Set<string>();
  const out: Identifier[] = [];
  for (const id of input) {
    const norm = normalizeIdentifier(id);
    const key = `${norm.type}:${norm.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(norm);
  }
  const req = {
    dns: out.filter((i) => i.type === "dns").map((i) => i.value),
    ips: out.filter((i) => i.type === "ip").map((i) => i.value),
  };
  allowedByPolicy(policy)(req);
  withinConstraints(constraints)(req);
  return out;
}

export function normalizeIdentifier(id: { type: string; value: string }): Identifier {
  if (id.type === "dns" && ipFamily(id.value) !== null) {
    // Older clients (lego 4.9) send an IP address as a "dns" identifier; RFC 8738 3 says it is
    // an "ip" identifier, and it is validated and issued as one.
    return normalizeIdentifier({ type: "ip", value: id.value });
  }
  if (id.type === "dns") {
    if (id.value.startsWith("*.")) {
      throw new Problem("rejectedIdentifier", `wildcard identifier "${id.value}" is not issued`, {
        extra: { identifier: { type: "dns", value: id.value } },
      });
    }
    const problem = dnsNameProblem(normalizeDns(id.value));
    if (problem) {
      throw new Problem("rejectedIdentifier", problem, { extra: { identifier: id } });
    }
    return { type: "dns", value: normalizeDns(id.value) };
  }
  if (id.type === "ip") {
    try {
      // RFC 8738 3: the textual form of RFC 1123 2.1 (IPv4) or RFC 5952 4 (IPv6).
      return { type: "ip", value: canonicalIp(id.value) };
    } catch {
      throw malformed(`"${id.value}" is not an IP address`);
    }
  }
  throw unsupportedIdentifier(`identifier type "${id.type}" is not supported: use dns or ip`);
}

/**
 * RFC 8555 7.4: the CSR must ask for exactly the order's identifiers. `csr` holds all the names
 * it asks for: its subjectAltName plus a commonName that is a name (see withCommonNameAsSan).
 */
export function csrMatchesOrder(
  csr: { dns: readonly string[]; ips: readonly string[] },
  identifiers: readonly Identifier[],
): boolean {
  const want = new Set(identifiers.map((i) => `${i.type}:${i.value}`));
  const got = new Set<string>();
  for (const d of csr.dns) got.add(`dns:${normalizeDns(d)}`);
  for (const ip of csr.ips) got.add(`ip:${ip}`);
  return want.size === got.size && [...want].every((k) => got.has(k));
}

/**
 * The identifiers a certificate is for, from its subjectAltName entries, in the form
 * authorizations hold them (RFC 8555 7.6 compares the two). A DNS name that no authorization can
 * hold (a wildcard, say) stays as it is, so that no authorization matches it.
 */
export function certificateIdentifiers(cert: {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}): Identifier[] {
  const out = new Map<string, Identifier>();
  for (const d of cert.dnsNames) out.set(`dns:${normalizeDns(d)}`, { type: "dns", value: normalizeDns(d) });
  for (const ip of cert.ipAddresses) {
    let value = ip;
    try {
      value = canonicalIp(ip);
    } catch {
      // kept as stored: it then matches no authorization
    }
    out.set(`ip:${value}`, { type: "ip", value });
  }
  return [...out.values()];
}
