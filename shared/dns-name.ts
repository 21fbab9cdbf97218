/**
 * DNS host names (RFC 1123 2.1 host name syntax, which RFC 5280 4.2.1.6 requires of a dNSName):
 * the one check for every name the CA issues or is asked for, the agent asks for, or a hosts line
 * maps.
 */

import { domainToASCII, domainToUnicode } from "node:url";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A label starting "xn--" claims to be an IDNA A-label (RFC 5890 2.3.2.1): it must decode, and
 * encode back to itself. node's WHATWG URL code (UTS 46, as browsers) does both; it hands back
 * an undecodable label unchanged. No dependency is needed for this.
 */
function validALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== "" && unicode !== label && domainToASCII(unicode) === label;
}

/** Why `name` is not a valid DNS host name, or null when it is. Wildcards are not host names. */
export function dnsNameProblem(name: string): string | null {
  if (name.length === 0) return "empty DNS name";
  if (name.length > 253) return `DNS name longer than 253 characters: ${name.slice(0, 40)}...`;
  if (name.startsWith("*.")) return `wildcard name "${name}" is not issued`;
  const labels = name.toLowerCase().split(".");
  for (const label of labels) {
    if (!LABEL.test(label)) return `"${name}" is not a valid DNS name`;
    if (label.startsWith("xn--") && !validALabel(label))
      return `"${name}" is not a valid DNS name: "${label}" is not a valid IDNA A-label`;
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? ""))
    return `"${name}" looks like an IP address, not a DNS name`;
  return null;
}

export const normalizeDns = (name: string) => name.toLowerCase().replace(/\.$/, "");
