import { z } from "zod";
import { parseDuration } from "../../../shared/duration.js";
import { InputError } from "../../../shared/errors.js";
import { credentialFields, policyFrom } from "../core/credential.js";
import type { TokenRecord } from "../core/types.js";
import { mintToken, type NewToken } from "./secret.js";

/** What `token create` and POST /v1/tokens take, validated the same way for both. */
export const newTokenSchema = z
  .object({
    ...credentialFields,
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
  if (!m?.[1] || !m[2]) throw new InputError(`invalid rate "${text}": use COUNT/DURATION, e.g. 60/1m`);
  const limit = Number(m[1]);
  const windowMs = parseDuration(m[2]);
  if (limit < 1 || windowMs < 1000) throw new InputError(`invalid rate "${text}": at least 1 per 1s window`);
  return { limit, windowMs };
}

/** Checks a request and mints the token; InputErrors name what was wrong. */
export function buildToken(
  input: NewTokenRequest,
  now: number,
  key: Buffer,
): { record: TokenRecord; secret: string } {
  return mintToken(checkTokenRequest(input, now), now, key);
}

/** The token a request asks for, checked; InputErrors name what was wrong. */
export function checkTokenRequest(input: NewTokenRequest, now: number): NewToken {
  const req = newTokenSchema.parse(input);
  const policy = policyFrom(req, "a token");
  const expiresInMs = req.expires === undefined ? null : parseDuration(req.expires);
  if (expiresInMs !== null && expiresInMs <= 0) throw new InputError("expires must be longer than 0s");
  const expiresAt = expiresInMs === null ? null : now + expiresInMs;
  const { limit, windowMs } = parseRate(req.rate ?? DEFAULT_RATE);
  return {
    name: req.name,
    kind: "enrol",
    policy,
    expiresAt,
    usesLeft: req.uses ?? null,
    rateLimit: limit,
    rateWindowMs: windowMs,
  };
}
