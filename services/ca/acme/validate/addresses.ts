import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { canonicalIp, ipFamily, ipMatcher, ipToBytes, parseIpRange } from "../../core/names.js";

/**
 * Where validation may connect. Validation connects wherever an ACME client's DNS (or a
 * redirect) points, so without limits it reaches what only the CA can: its own loopback
 * services, a cloud metadata address, its own API. These ranges are refused unless
 * --acme-validation-allow names them; private LAN ranges are allowed, as this is a LAN CA.
 */
const REFUSED = [
  "0.0.0.0/8", // "this network": 0.0.0.0 connects to the local host (RFC 1122 3.2.1.3)
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local, where cloud metadata services live (RFC 3927)
  "224.0.0.0/4", // multicast
  "255.255.255.255/32", // limited broadcast
  "::/96", // unspecified, loopback (::1) and the deprecated IPv4-compatible form
  "fe80::/10", // link-local
  "ff00::/8", // multicast
].map(parseIpRange);

export interface AddressPolicyConfig {
  /** --acme-validation-allow: CIDRs (or single addresses) allowed even when refused by default */
  allow?: readonly string[];
  /** the addresses the CA itself listens on (all of this host's when it listens on a wildcard) */
  own?: readonly string[];
}

/** true when validation may connect to `address` (an IP literal). */
export type AddressPolicy = (address: string) => boolean;

export function addressPolicy(cfg: AddressPolicyConfig): AddressPolicy {
  const allowed = ipMatcher((cfg.allow ?? []).map(parseIpRange));
  const refused = ipMatcher(REFUSED);
  const own = new Set((cfg.own ?? []).filter((a) => ipFamily(a)).map((a) => canonicalIp(unmapped(a))));
  return (address) => {
    if (!ipFamily(address)) return false;
    // ::ffff:127.0.0.1 connects to 127.0.0.1: judged as the IPv4 address it is (RFC 4291 2.5.5.2)
    const ip = canonicalIp(unmapped(address));
    if (allowed(ip)) return true;
    return !refused(ip) && !own.has(ip);
  };
}

/** An IPv4-mapped IPv6 address as its IPv4 address; any other address as it is. */
function unmapped(address: string): string {
  if (ipFamily(address) !== "ipv6") return address;
  const bytes = ipToBytes(address);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? [...bytes.subarray(12)].join(".") : address;
}

/**
 * The addresses the CA listens on, which validation must not be turned against: the one given,
 * every address of this host's interfaces when it listens on a wildcard, or what a host name
 * resolves to (nothing, when it does not resolve: serve could not have listened on it).
 */
export async function listenAddresses(
  host: string,
  os: { interfaces(): string[]; resolve(name: string): Promise<string[]> },
): Promise<string[]> {
  if (host === "" || host === "0.0.0.0" || host === "::") return os.interfaces();
  if (isIP(host)) return [host];
  return os.resolve(host).catch(() => []);
}

/** This machine's own interfaces and resolver, for listenAddresses in serve. */
export const thisMachine = {
  interfaces: (): string[] =>
    Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address)),
  resolve: (name: string): Promise<string[]> =>
    lookup(name, { all: true }).then((found) => found.map((a) => a.address)),
};
