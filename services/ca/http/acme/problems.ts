import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import type { Logger } from "pino";
import { z } from "zod";
import { isInputError } from "../../../../shared/errors.js";
import { isAcmeProblem, malformed, Problem, serverInternal } from "../../../../shared/problem.js";
import type { AppEnv } from "../context.js";
import { type StorageFaults, storageProblem } from "../middleware/problems.js";

/** An error in its ACME form (RFC 8555 6.7), or null when it has none (then it is a 500). */
export function toAcmeProblem(err: unknown): Problem | null {
  if (isAcmeProblem(err)) return err;
  if (err instanceof Problem) return null;
  if (err instanceof z.ZodError) return malformed(err.issues.map((i) => i.message).join("; "));
  if (isInputError(err)) return malformed(err.message);
  return null;
}

export function acmeProblemResponse(c: Context<AppEnv>, p: Problem): Response {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (p.retryAfter !== undefined) headers["retry-after"] = String(p.retryAfter);
  return c.body(JSON.stringify(p.toAcmeJSON()), p.acmeStatus as 400, headers);
}

/** The ACME sub-app's error handler: every error is an ACME problem; unknown ones are logged. */
export function acmeOnError(log: Logger, storage?: StorageFaults) {
  return (err: Error, c: Context<AppEnv>): Response => {
    const p = toAcmeProblem(err) ?? storageProblem(err, log, c.req.path, storage);
    if (p) return acmeProblemResponse(c, p);
    const requestId = randomUUID();
    log.error({ err, requestId, path: c.req.path }, "ACME: unhandled error");
    return acmeProblemResponse(c, serverInternal(`internal error; quote request id ${requestId}`));
  };
}
