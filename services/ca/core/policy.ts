import { normalizeDns } from "../../../shared/dns-name.js";
import { formatDuration } from "../../../shared/duration.js";
import { malformed, Problem, rejectedIdentifier } from "../../../shared/problem.js";
import { type DnsPattern, dnsPatternMatches, formatDnsPattern, type IpRange, ipMatcher } from "./names.js";

/**
 * Policy is data: a credential's policy becomes a list of checks that a request passes in
 * order, in the manner of step-ca's sign options. Pure: no I/O.
 */

export const DEFAULT_VALIDITY_MS = 30 * 86_400_000;
/**
 * notBefore is backdated to absorb clock skew between hosts: a host whose clock runs behind the
 * CA's sees a certificate as not yet valid until its notBefore, in its own TLS checks (the agent's
 * --verify, its handshake with the CA) and its clients'. Five minutes of skew are absorbed.
 */
export const BACKDATE_MS = 5 * 60_000;

/**
 * The backdating of a certificate that lasts LIFETIME: BACKDATE_MS, but at most a fifth of a short
 * lifetime (a 5-minute certificate is backdated 1 minute), as the backdating comes out of it.
 */
export function backdateFor(lifetimeMs: number): number {
  return Math.min(BACKDATE_MS, Math.floor(lifetimeMs / 5 / 1000) * 1000);
}
/**
 * The shortest lifetime signed (step-ca's default minimum too): the backdating comes out of the
 * lifetime, so a shorter one would arrive spent or nearly so.
 */
export const MIN_VALIDITY_MS = 5 * 60_000;

export interface Policy {
  dns: readonly DnsPattern[];
  ips: readonly IpRange[];
  maxValidityMs: number;
}

/** The intermediate's name constraints (RFC 5280 4.2.1.10): permitted subtrees per name type. */
export interface Constraints {
  dns: readonly string[];
  ips: readonly IpRange[];
}

export interface NameRequest {
  dns: readonly string[];
  ips: readonly string[];
}

export interface SignRequest extends NameRequest {
  /** requested lifetime, or undefined for the default */
  validityMs?: number;
}

export type Check = (req: SignRequest) => void;

export function namesNonEmpty(req: SignRequest): void {
  if (req.dns.length === 0 && req.ips.length === 0) {
    throw new Problem("badCSR", "the CSR has no subjectAltName: ask for at least one DNS name or IP address");
  }
}

export function allowedByPolicy(policy: Policy): Check {
  const ipAllowed = ipMatcher(policy.ips);
  return (req) => {
    for (const name of req.dns) {
      if (!policy.dns.some((p) => dnsPatternMatches(p, name))) {
        const allowed = policy.dns.map(formatDnsPattern).join(", ") || "none";
        throw rejectedIdentifier(
          `DNS name "${name}" is not allowed by this credential (allowed: ${allowed})`,
        );
      }
    }
    for (const ip of req.ips) {
      if (!ipAllowed(ip)) {
        throw rejectedIdentifier(`IP address ${ip} is not allowed by this credential`);
      }
    }
  };
}

export function withinConstraints(constraints: Constraints): Check {
  if (constraints.dns.length === 0 && constraints.ips.length === 0) return () => {};
  const ipAllowed = ipMatcher(constraints.ips);
  return (req) => {
    if (constraints.dns.length > 0) {
      for (const name of req.dns) {
        if (!constraints.dns.some((s) => dnsWithinSubtree(name, s))) {
          throw rejectedIdentifier(`DNS name "${name}" is outside the CA's name constraints`);
        }
      }
    }
    if (constraints.ips.length > 0) {
      for (const ip of req.ips) {
        if (!ipAllowed(ip)) {
          throw rejectedIdentifier(`IP address ${ip} is outside the CA's name constraints`);
        }
      }
    }
  };
}

export function validityWithin(maxValidityMs: number): Check {
  return (req) => {
    if (req.validityMs === undefined) return;
    if (req.validityMs < MIN_VALIDITY_MS) {
      throw malformed(
        `validity ${formatDuration(req.validityMs)} is shorter than the minimum ${formatDuration(MIN_VALIDITY_MS)} (certificates are backdated up to a fifth of their lifetime for clock skew)`,
      );
    }
    if (req.validityMs > maxValidityMs) {
      throw malformed(
        `validity ${formatDuration(req.validityMs)} exceeds this credential's maximum ${formatDuration(maxValidityMs)}`,
      );
    }
  };
}

/** RFC 5280 4.2.1.10: a dNSName subtree matches the name itself and any name under it. */
export function dnsWithinSubtree(name: string, subtree: string): boolean {
  const n = normalizeDns(name);
  const s = normalizeDns(subtree.replace(/^\./, ""));
  return n === s || n.endsWith(`.${s}`);
}

export function checksFor(policy: Policy, constraints: Constraints): Check[] {
  return [
    namesNonEmpty,
    allowedByPolicy(policy),
    withinConstraints(constraints),
    validityWithin(policy.maxValidityMs),
  ];
}

export function runChecks(checks: readonly Check[], req: SignRequest): void {
  for (const check of checks) check(req);
}

/** The lifetime a request gets: what it asked for, else the default, never above the maximum. */
export function validityFor(
  req: SignRequest,
  maxValidityMs: number,
  now: number,
): { notBefore: Date; notAfter: Date } {
  const lifetime = Math.min(req.validityMs ?? DEFAULT_VALIDITY_MS, maxValidityMs);
  // Whole seconds, as certificates carry them; the backdating comes out of the lifetime so that
  // notAfter - notBefore never exceeds what the credential allows.
  const notBefore = Math.floor(now / 1000) * 1000 - backdateFor(lifetime);
  return { notBefore: new Date(notBefore), notAfter: new Date(notBefore + lifetime) };
}
