import { z } from "zod";
import { formatDuration, parseDuration } from "../../../shared/duration.js";
import { InputError } from "../../../shared/errors.js";
import { parseDnsPattern, parseIpRange } from "./names.js";
import { DEFAULT_VALIDITY_MS, MIN_VALIDITY_MS, type Policy } from "./policy.js";

/**
 * The fields every credential (enrolment token, ACME External Account Binding) is created
 * with: a name and a name policy, in one syntax for the CLI and the API.
 */
export const credentialFields = {
  name: z
    .string()
    .trim()
    .min(1, { message: "required", abort: true })
    .max(100, "at most 100 characters")
    .regex(/^[A-Za-z0-9._@-]+$/, "letters, digits and . _ @ - only"),
  dns: z.array(z.string()).default([]),
  ip: z.array(z.string()).default([]),
  maxValidity: z.string().optional(),
};

/** The policy of a credential; InputErrors name what was wrong. */
export function policyFrom(req: { dns: string[]; ip: string[]; maxValidity?: string }, what: string): Policy {
  const dns = req.dns.map(parseDnsPattern);
  const ips = req.ip.map(parseIpRange);
  if (dns.length === 0 && ips.length === 0) {
    throw new InputError(`${what} needs at least one --dns pattern or --ip address/CIDR`);
  }
  const maxValidityMs = req.maxValidity ? parseDuration(req.maxValidity) : DEFAULT_VALIDITY_MS;
  if (maxValidityMs < MIN_VALIDITY_MS) {
    throw new InputError(`max validity must be at least ${formatDuration(MIN_VALIDITY_MS)}`);
  }
  return { dns, ips, maxValidityMs };
}
