import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { fingerprint } from "../../../shared/x509/pem.js";
import { parseRegistry } from "../actions/trust.js";
import { matchHostnames, type Sans, subjectAltNames } from "./sans.js";

/**
 * The analysis behind `doctor HOST:PORT`, pure (no network, no files): what a Docker client
 * would say about the certificates a registry serves, and the fix. Docker verifies with Go's crypto/x509 (through crypto/tls), so the messages are
 * Go's, word for word, and the findings come in the order Go's Certificate.Verify checks:
 * the leaf's validity period, then the host name, then the chain to a trusted root, then the
 * extended key usage. Go stops at the first; doctor lists them all, the first being what
 * `docker login` prints today.
 */

export type FindingCode =
  | "expired"
  | "not-yet-valid"
  | "legacy-common-name"
  | "no-ip-san"
  | "name-mismatch"
  | "self-signed"
  | "incomplete-chain"
  | "unknown-authority"
  | "incompatible-usage"
  | "not-trusted-by-docker";

export interface Finding {
  code: FindingCode;
  /** the x509 error exactly as Go formats it */
  dockerMessage: string;
  explanation: string;
  fix: string;
}

/** Where the roots given to diagnose() came from; changes the advice for an unknown authority. */
export type RootSource = "ca-file" | "home" | "docker-certs" | "system" | "none";

const UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority";
const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const EKU_ANY = "2.5.29.37.0";

/** Go's time.RFC3339 in UTC: no fractional seconds. */
export const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
const notBefore = (c: X509Certificate) => new Date(c.validFrom);
export const notAfter = (c: X509Certificate) => new Date(c.validTo);

function commonName(c: X509Certificate): string {
  const cns = c.subject.split("\n").filter((l) => l.startsWith("CN="));
  return cns[cns.length - 1]?.slice(3) ?? "";
}

/** How Go names a certificate in an UnknownAuthorityError hint: CN, else O, else the serial. */
function goCertName(c: X509Certificate): string {
  const org = c.subject.split("\n").find((l) => l.startsWith("O="));
  return commonName(c) || org?.slice(2) || `serial:${BigInt(`0x${c.serialNumber}`).toString()}`;
}

export const named = (c: X509Certificate) =>
  `"${goCertName(c)}" (sha256 ${fingerprint(c.raw).slice(0, 16)}…)`;

function validityFinding(c: X509Certificate, now: Date): Finding | null {
  const start = notBefore(c);
  const end = notAfter(c);
  if (now < start) {
    return {
      code: "not-yet-valid",
      dockerMessage: `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339(start)}`,
      explanation: `the certificate only becomes valid at ${rfc3339(start)}: a clock is wrong, here, on the registry host or on the CA`,
      fix: "check the clocks (timedatectl), then on the registry host: certyard-agent renew --force",
    };
  }
  if (now > end) {
    return {
      code: "expired",
      dockerMessage: `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339(end)}`,
      explanation: `the certificate expired at ${rfc3339(end)}; an expired certificate can no longer renew itself over mutual TLS`,
      fix: "re-enrol on the registry host: certyard-agent cert --name ID --token TOKEN (or --join STRING) with the same --dns/--ip and --out, then it renews on its own again",
    };
  }
  return null;
}

/** Go's VerifyHostname and HostnameError.Error(), using node's checkHost/checkIP for the match. */
function hostnameFinding(leaf: X509Certificate, sans: Sans, host: string): Finding | null {
  const ip = isIP(host) !== 0;
  if (ip ? leaf.checkIP(host) : leaf.checkHost(host, { subject: "never", partialWildcards: false }))
    return null;
  const flag = ip ? "--ip" : "--dns";
  const reissue = `reissue with the name clients use, keeping the others: certyard-agent cert --name ID ... ${flag} ${host}`;
  if (!sans.present && matchHostnames(commonName(leaf), host)) {
    return {
      code: "legacy-common-name",
      dockerMessage: "x509: certificate relies on legacy Common Name field, use SANs instead",
      explanation: `the certificate names ${host} only in its subject CN, which Go ignores; it needs a subjectAltName`,
      fix: reissue,
    };
  }
  if (ip && sans.ips.length === 0) {
    const names = sans.dns.length ? `only DNS names (${sans.dns.join(", ")})` : "no names at all";
    return {
      code: "no-ip-san",
      dockerMessage: `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`,
      explanation: `clients reach the registry by the address ${host}, and an address is matched only against IP SANs; the certificate has ${names}`,
      fix: `reissue with the address: certyard-agent cert --name ID ... --ip ${host} (keep the --dns names)`,
    };
  }
  const valid = (ip ? sans.ips : sans.dns).join(", ");
  return {
    code: "name-mismatch",
    dockerMessage: valid
      ? `x509: certificate is valid for ${valid}, not ${host}`
      : `x509: certificate is not valid for any names, but wanted to match ${host}`,
    explanation: `clients connect as ${host}, which is not among the certificate's ${ip ? "IP" : "DNS"} names`,
    fix: reissue,
  };
}

/** Go's CheckSignatureFrom, as far as the messages go. */
function signatureError(child: X509Certificate, parent: X509Certificate): string | null {
  if (!parent.ca) return "x509: invalid signature: parent certificate cannot sign this kind of certificate";
  if (child.verify(parent.publicKey)) return null;
  const kind = parent.publicKey.asymmetricKeyType;
  if (kind === "rsa" || kind === "rsa-pss") return "crypto/rsa: verification error";
  if (kind === "ed25519") return "x509: Ed25519 verification failure";
  return "x509: ECDSA verification failure";
}

function expiryError(c: X509Certificate, now: Date): string | null {
  return validityFinding(c, now)?.dockerMessage ?? null;
}

export interface Chain {
  /** from the leaf up; ends at a trusted root when anchored */
  path: X509Certificate[];
  anchored: boolean;
  /** the first candidate issuer that was rejected, as Go keeps it for its hint */
  hint: { error: string; cert: X509Certificate } | null;
}

/**
 * Builds the path as Go's buildChains does: candidates for an issuer are the certificates whose
 * subject is the child's issuer name (roots first, then what the server sent); a candidate
 * whose signature, validity or CA flag fails is skipped and remembered as the hint.
 */
export function buildChain(chainDers: Uint8Array[], rootDers: Uint8Array[], now: Date): Chain {
  const [leaf, ...sent] = chainDers.map((d) => new X509Certificate(Buffer.from(d)));
  if (!leaf) throw new Error("the server sent no certificate");
  const roots = rootDers.map((d) => new X509Certificate(Buffer.from(d)));
  if (roots.some((r) => r.raw.equals(leaf.raw))) return { path: [leaf], anchored: true, hint: null };
  const path = [leaf];
  let hint: Chain["hint"] = null;
  const reject = (error: string, cert: X509Certificate) => {
    hint ??= { error, cert };
  };
  for (let cur = leaf; path.length < 10; ) {
    for (const r of roots.filter((r) => r.subject === cur.issuer)) {
      const err = signatureError(cur, r) ?? expiryError(r, now);
      if (err) reject(err, r);
      else return { path: [...path, r], anchored: true, hint };
    }
    const next = sent.find((c) => {
      if (c.subject !== cur.issuer || path.some((p) => p.raw.equals(c.raw))) return false;
      const err = signatureError(cur, c) ?? expiryError(c, now);
      if (err) reject(err, c);
      return err === null;
    });
    if (!next) break;
    path.push(next);
    cur = next;
  }
  return { path, anchored: false, hint };
}

const isSelfSigned = (c: X509Certificate) => c.subject === c.issuer && c.verify(c.publicKey);

function chainFinding(
  chain: Chain,
  sentCount: number,
  roots: number,
  registry: string,
  from: RootSource,
): Finding | null {
  const leaf = chain.path[0] as X509Certificate;
  const top = chain.path[chain.path.length - 1] as X509Certificate;
  if (chain.anchored) {
    // Go's checkChainForKeyUsage: a certificate without EKU allows any use
    const bad = chain.path.find((c) => {
      // node leaves keyUsage (the EKU OIDs) undefined when the extension is absent
      const eku: string[] | undefined = c.keyUsage;
      return eku !== undefined && !eku.includes(EKU_SERVER_AUTH) && !eku.includes(EKU_ANY);
    });
    if (!bad) return null;
    return {
      code: "incompatible-usage",
      dockerMessage: "x509: certificate specifies an incompatible key usage",
      explanation: `${named(bad)} does not allow TLS server authentication (extended key usage ${bad.keyUsage?.join(", ")})`,
      fix: "reissue the registry's certificate from the CA: certyard-agent cert --name ID ... (its certificates carry serverAuth)",
    };
  }
  const reissue =
    "reissue the registry's certificate from the CA this host trusts: certyard-agent cert --name ID --token TOKEN --dns ... --ip ... on the registry host";
  const installRoot = `certyard-agent bootstrap --ca URL --fingerprint FP, then certyard-agent trust --registry ${registry}`;
  const unknownFix = from === "docker-certs" || from === "system" || from === "none" ? installRoot : reissue;
  if (chain.hint) {
    const { error, cert } = chain.hint;
    const why = error.startsWith("x509: certificate has expired")
      ? `the issuing CA certificate ${named(cert)} is outside its validity period`
      : error.includes("cannot sign")
        ? `the certificate named as issuer, ${named(cert)}, is not a CA certificate`
        : `a trusted or sent certificate has the issuer's name, ${named(cert)}, but its key did not sign this certificate: it comes from another CA of the same name (was the CA re-initialised?)`;
    return {
      code: "unknown-authority",
      dockerMessage: `${UNKNOWN_AUTHORITY} (possibly because of ${JSON.stringify(error)} while trying to verify candidate authority certificate ${JSON.stringify(goCertName(cert))})`,
      explanation: why,
      fix: error.startsWith("x509: certificate has expired")
        ? "renew or replace that CA certificate, then reissue the registry's certificate"
        : reissue,
    };
  }
  if (roots === 0) {
    return {
      code: "unknown-authority",
      dockerMessage: UNKNOWN_AUTHORITY,
      explanation:
        "there is no root to check against: no --ca-file, the agent is not bootstrapped, nothing in Docker's certs.d for this registry and no system bundle",
      fix: installRoot,
    };
  }
  if (isSelfSigned(top)) {
    if (top === leaf) {
      return {
        code: "self-signed",
        dockerMessage: UNKNOWN_AUTHORITY,
        explanation: `the registry serves a self-signed certificate ${named(leaf)}: no CA vouches for it`,
        fix: `replace it with one from the CA: certyard-agent cert --name ID --token TOKEN --dns ... --ip ... --out DIR on the registry host`,
      };
    }
    return {
      code: "unknown-authority",
      dockerMessage: UNKNOWN_AUTHORITY,
      explanation: `the chain ends at the root ${named(top)}, which is not a trusted root`,
      fix: unknownFix,
    };
  }
  if (top === leaf) {
    const extra =
      sentCount > 1 ? ` (it sent ${sentCount - 1} other certificate(s), none of them that issuer)` : "";
    return {
      code: "incomplete-chain",
      dockerMessage: UNKNOWN_AUTHORITY,
      explanation: `the server sends only the leaf, issued by "${top.issuer.split("\n").join(", ")}", and not that intermediate${extra}; clients hold only the root, so they cannot link the leaf to it`,
      fix: "serve the full chain: the registry's certificate file must be the leaf followed by the intermediate (certyard-agent cert writes that to --cert-file, e.g. domain.crt / fullchain.pem)",
    };
  }
  return {
    code: "unknown-authority",
    dockerMessage: UNKNOWN_AUTHORITY,
    explanation: `the chain leads to "${top.issuer.split("\n").join(", ")}", which is neither sent by the server nor a trusted root`,
    fix: unknownFix,
  };
}

/**
 * What Go's crypto/x509 would say about this chain (the DERs in the order the server sent
 * them, leaf first) for a client that trusts `roots` and connects to `target` (HOST:PORT) at
 * `now`. Pure: no network, no files. An empty list means Docker accepts the chain.
 */
export function diagnose(
  chainDers: Uint8Array[],
  roots: Uint8Array[],
  target: string,
  now: Date,
  opts: { rootsFrom?: RootSource } = {},
): Finding[] {
  const { host } = parseRegistry(target);
  const chain = buildChain(chainDers, roots, now);
  const leaf = chain.path[0] as X509Certificate;
  const findings = [
    validityFinding(leaf, now),
    hostnameFinding(leaf, subjectAltNames(leaf.raw), host),
    chainFinding(chain, chainDers.length, roots.length, target, opts.rootsFrom ?? "home"),
  ];
  return findings.filter((f): f is Finding => f !== null);
}

/**
 * When doctor checked against the agent's root (or --ca-file): does Docker on this host trust
 * it for this registry? The daemon reads `certs.d/HOST:PORT/*.crt` plus the system bundle.
 */
export function dockerTrustFinding(
  chainDers: Uint8Array[],
  dockerRoots: Uint8Array[],
  target: string,
  now: Date,
  where: string,
): Finding | null {
  if (buildChain(chainDers, dockerRoots, now).anchored) return null;
  return {
    code: "not-trusted-by-docker",
    dockerMessage: UNKNOWN_AUTHORITY,
    explanation: `the chain is valid for the CA's root, but Docker on this host does not trust that root for ${target}: it is neither in ${where} nor in the system store`,
    fix: `certyard-agent trust --registry ${target}`,
  };
}
