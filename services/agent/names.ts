import { isIP } from "node:net";
import { dnsNameProblem, normalizeDns } from "../../shared/dns-name.js";
import { InputError } from "../../shared/errors.js";

/**
 * A --dns value, lower case and without a final dot, checked as the CA checks names; a wildcard
 * `*.` first label is let through for ACME CAs that issue them (the CA refuses it itself).
 */
export function dnsNameText(name: string): string {
  const n = normalizeDns(name.trim());
  const problem = dnsNameProblem(n.startsWith("*.") ? n.slice(2) : n);
  if (problem) throw new InputError(`invalid --dns "${name}": ${problem}`);
  return n;
}

/** An --ip value without brackets, checked to be an address; the CA puts it in canonical form. */
export function ipAddressText(ip: string): string {
  const t = ip.trim().replace(/^\[|\]$/g, "");
  if (isIP(t) === 0) throw new InputError(`invalid --ip "${ip}"`);
  return t;
}
