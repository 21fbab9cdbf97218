import { createPublicKey } from "node:crypto";
import { lookup } from "node:dns/promises";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { dnsNameProblem } from "../../../shared/dns-name.js";
import { writeFileAtomic } from "../../../shared/fs.js";
import { exportPrivateKey, generateKey } from "../../../shared/keys.js";
import { seq, tlv } from "../../../shared/x509/der.js";
import { publicKeyInfo } from "../core/csr.js";
import { canonicalIp, ipMatcher, ipToBytes } from "../core/names.js";
import { type Constraints, dnsWithinSubtree } from "../core/policy.js";
import type { Authority } from "./authority.js";

/** The CA's own TLS certificate: issued by itself, kept in DATA/tls, renewed at two thirds of its life. */
export const SERVING_LIFETIME_MS = 30 * 86_400_000;

const servingMetaSchema = z.object({
  serial: z.string(),
  notBefore: z.number(),
  notAfter: z.number(),
  names: z.object({ dns: z.array(z.string()), ips: z.array(z.string()) }),
});

export interface ServingNames {
  dns: string[];
  ips: string[];
}

export interface ServingCert {
  keyPem: string;
  certPem: string;
  serial: string;
  notBefore: number;
  notAfter: number;
  names: ServingNames;
}

/** The host name, localhost, 127.0.0.1, ::1 and this host's other addresses, within the constraints. */
export function defaultServingNames(constraints: Constraints): ServingNames {
  const dns = [...new Set([hostname().toLowerCase(), "localhost"])].filter((n) => dnsNameProblem(n) === null);
  const ips = new Set(["127.0.0.1", "::1"]);
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? [])
      if (!a.internal && !a.address.startsWith("fe80")) ips.add(canonicalIp(a.address));
  }
  const ipAllowed = ipMatcher(constraints.ips);
  return {
    dns: dns.filter(
      (d) => constraints.dns.length === 0 || constraints.dns.some((s) => dnsWithinSubtree(d, s)),
    ),
    ips: [...ips].filter((ip) => constraints.ips.length === 0 || ipAllowed(ip)),
  };
}

/**
 * The names with the public URL's host added: a client that reaches the CA there must find that
 * host in its certificate (compose, for one, names the CA's container but gives the host's URL).
 */
export function withUrlHost(names: ServingNames, url: string): ServingNames {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (isIP(host)) {
    const ip = canonicalIp(host);
    return names.ips.includes(ip) ? names : { ...names, ips: [...names.ips, ip] };
  }
  return names.dns.includes(host) ? names : { ...names, dns: [...names.dns, host] };
}

/** An address another host can reach: not loopback, unspecified or link-local. */
function reachable(ip: string): boolean {
  return !/^(127\.|0\.|169\.254\.|::1$|::$|fe[89ab][0-9a-f]:)/i.test(ip);
}

/**
 * The host of the public URL when --url is not given. Join strings carry it to other hosts, which
 * cannot resolve a host name that only this host's /etc/hosts knows (Debian maps its own name to
 * 127.0.1.1): the host name when it resolves to an address other hosts can reach, else this
 * host's first such address (IPv4 first), else the first serving name.
 */
export function guessPublicHost(names: ServingNames, hostNameAddresses: string[]): string {
  const [hostName] = names.dns;
  if (hostName && hostName !== "localhost" && hostNameAddresses.some(reachable)) return hostName;
  const ips = names.ips.filter(reachable);
  return ips.find((ip) => isIP(ip) === 4) ?? ips[0] ?? names.dns[0] ?? names.ips[0] ?? "localhost";
}

/** --url, else a guess (see guessPublicHost) with the port serve listens on. */
export async function publicUrl(
  url: string | undefined,
  names: ServingNames,
  port: number,
): Promise<{ url: string; guessed: boolean }> {
  if (url) return { url: url.replace(/\/$/, ""), guessed: false };
  const addresses = await lookup(hostname(), { all: true }).then(
    (found) => found.map((a) => a.address),
    () => [],
  );
  const host = guessPublicHost(names, addresses);
  return { url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, guessed: true };
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function servingDue(cert: ServingCert, now: number): boolean {
  return now >= cert.notBefore + ((cert.notAfter - cert.notBefore) * 2) / 3;
}

/** Whether the stored certificate is for these names and (after a rotation) from the current intermediate. */
export function servingFits(cert: ServingCert, authority: Authority, names: ServingNames): boolean {
  return (
    sameList(cert.names.dns, names.dns) &&
    sameList(cert.names.ips, names.ips) &&
    // after a rotation, from the new intermediate (its chain then reaches the new root too)
    authority.issuedByCurrent(cert.certPem)
  );
}

/** The serving certificate stored in DATA/tls, or null. */
export function readServingCert(dataDir: string): ServingCert | null {
  const dir = join(dataDir, "tls");
  const metaPath = join(dir, "server.json");
  if (!existsSync(metaPath)) return null;
  const meta = servingMetaSchema.parse(JSON.parse(readFileSync(metaPath, "utf8")));
  return {
    ...meta,
    keyPem: readFileSync(join(dir, "server.key"), "utf8"),
    certPem: readFileSync(join(dir, "server.crt"), "utf8"),
  };
}

/**
 * The certificate to serve now: the stored one while it is for these names and not due,
 * otherwise (when this process may issue) a new one. Processes that may not issue pick up
 * what the issuing process stored.
 */
export async function ensureServingCert(
  authority: Authority,
  dataDir: string,
  names: ServingNames,
  now: number,
  mayIssue = true,
): Promise<ServingCert> {
  const current = readServingCert(dataDir);
  if (current && (!mayIssue || (servingFits(current, authority, names) && !servingDue(current, now))))
    return current;
  return issueServingCert(authority, dataDir, names);
}

export async function issueServingCert(
  authority: Authority,
  dataDir: string,
  names: ServingNames,
): Promise<ServingCert> {
  if (names.dns.length === 0 && names.ips.length === 0) {
    throw new Error(
      "no name for the serving certificate: give --tls-dns or --tls-ip within the CA's constraints",
    );
  }
  const key = generateKey("ec-p256");
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const generalNames = seq(
    ...names.dns.map((d) => tlv(0x82, Buffer.from(d, "ascii"))),
    ...names.ips.map((ip) => tlv(0x87, ipToBytes(ip))),
  );
  const { keyKind, publicKeyBits } = publicKeyInfo(spki);
  const issued = await authority.issueServing(
    {
      spki,
      publicKeyBits,
      keyKind,
      commonName: names.dns[0] ?? null,
      dns: names.dns,
      ips: names.ips,
      generalNames,
    },
    SERVING_LIFETIME_MS,
  );
  const dir = join(dataDir, "tls");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cert: ServingCert = {
    keyPem: exportPrivateKey(key),
    certPem: issued.fullchain,
    serial: issued.serial,
    notBefore: Date.parse(issued.notBefore),
    notAfter: Date.parse(issued.notAfter),
    names,
  };
  writeFileAtomic(join(dir, "server.key"), cert.keyPem, 0o600);
  writeFileAtomic(join(dir, "server.crt"), cert.certPem);
  const { keyPem: _k, certPem: _c, ...meta } = cert;
  writeFileAtomic(join(dir, "server.json"), `${JSON.stringify(meta, null, 2)}\n`);
  return cert;
}
