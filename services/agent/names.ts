import { isIP } from "node:net";

/** Light checks of names on the command line; the CA checks them against policy. */
export function dnsNameText(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, "");
  if (!/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(n)) {
    throw new RangeError(`invalid --dns "${name}"`);
  }
  return n;
}

/** An --ip value without brackets, checked to be an address; the CA puts it in canonical form. */
export function ipAddressText(ip: string): string {
  const t = ip.trim().replace(/^\[|\]$/g, "");
  if (isIP(t) === 0) throw new RangeError(`invalid --ip "${ip}"`);
  return t;
}
