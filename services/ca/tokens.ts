import { z } from "zod";
import { parseDuration } from "../../shared/duration.js";
import { type DnsPattern, type IpRange, parseDnsPattern, parseIpRange } from "./core/names.js";
import { DEFAULT_VALIDITY_MS } from "./core/policy.js";
import type { TokenRecord } from "./core/types.js";
import { mintToken } from "./credentials.js";

/** What `token create` and POST /v1/tokens take, validated the same way for both. */
export const newTokenSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9._@-]+$/, "letters, digits and . _ @ - only"),
    dns: z.array(z.string()).default([]),
    ip: z.array(z.string()).default([]),
    maxValidity: z.string().optional(),
    expires: z.string().optional(),
    uses: z.number().int().positive().optional(),
    rate: z.string().optional(),
  })
  .strict();
export type NewTokenRequest = z.input<typeof newTokenSchema>;

/** The default rate limit: generous for hosts, a brake for a leaked token. */
export const DEFAULT_RATE = "60/1m";

export function parseRate(text: string): { limit: number; windowMs: number } {
  const m = /^(\d+)\/(.+)$/.exec(text.trim());
  if (!m?.[1] || !m[2]) throw new RangeError(`invalid rate "${text}": use COUNT/DURATION, e.g. 60/1m`);
  const limit = Number(m[1]);
  const windowMs = parseDuration(m[2]);
  if (limit < 1 || windowMs < 1000) throw new RangeError(`invalid rate "${text}": at least 1 per 1s window`);
  return { limit, windowMs };
}

/** Checks a request and mints the token; RangeErrors name what was wrong. */
export function buildToken(input: NewTokenRequest, now: number): { record: TokenRecord; secret: string } {
  const req = newTokenSchema.parse(input);
  const dns: DnsPattern[] = req.dns.map(parseDnsPattern);
  const ips: IpRange[] = req.ip.map(parseIpRange);
  if (dns.length === 0 && ips.length === 0) {
    throw new RangeError("a token needs at least one --dns pattern or --ip address/CIDR");
  }
  const maxValidityMs = req.maxValidity ? parseDuration(req.maxValidity) : DEFAULT_VALIDITY_MS;
  if (maxValidityMs < 60_000) throw new RangeError("max validity must be at least 1m");
  const expiresAt = req.expires ? now + parseDuration(req.expires) : null;
  const { limit, windowMs } = parseRate(req.rate ?? DEFAULT_RATE);
  return mintToken(
    {
      name: req.name,
      kind: "enrol",
      policy: { dns, ips, maxValidityMs },
      expiresAt,
      usesLeft: req.uses ?? null,
      rateLimit: limit,
      rateWindowMs: windowMs,
    },
    now,
  );
}
