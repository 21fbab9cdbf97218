import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import type { Logger } from "pino";
import { z } from "zod";
import { type AcmeErrorType, AcmeProblem, isAcmeProblem } from "../../../../shared/acme/problems.js";
import { isInputError } from "../../../../shared/errors.js";
import { isProblem, type ProblemKind } from "../../../../shared/problem.js";
import type { AppEnv } from "../context.js";

/** Problems raised by shared CA code (CSR parsing, policy) in their ACME form (RFC 8555 6.7). */
const FROM_KIND: Partial<Record<ProblemKind, AcmeErrorType>> = {
  malformed: "malformed",
  badCSR: "badCSR",
  badPublicKey: "badCSR",
  badSignature: "badCSR",
  badName: "rejectedIdentifier",
  unauthorized: "unauthorized",
  forbidden: "unauthorized",
  rejectedIdentifier: "rejectedIdentifier",
  notFound: "notFound",
  payloadTooLarge: "malformed",
  rateLimited: "rateLimited",
};

export function toAcmeProblem(err: unknown): AcmeProblem | null {
  if (isAcmeProblem(err)) return err;
  if (isProblem(err)) {
    const type = FROM_KIND[err.kind];
    if (type) {
      const retry = err.extra.retryAfter;
      return new AcmeProblem(type, err.message, typeof retry === "number" ? { retryAfter: retry } : {});
    }
  }
  if (err instanceof z.ZodError)
    return new AcmeProblem("malformed", err.issues.map((i) => i.message).join("; "));
  if (isInputError(err)) return new AcmeProblem("malformed", err.message);
  return null;
}

export function acmeProblemResponse(c: Context<AppEnv>, p: AcmeProblem): Response {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (p.retryAfter !== undefined) headers["retry-after"] = String(p.retryAfter);
  return c.body(JSON.stringify(p.toJSON()), p.status as 400, headers);
}

/** The ACME sub-app's error handler: every error is an ACME problem; unknown ones are logged. */
export function acmeOnError(log: Logger) {
  return (err: Error, c: Context<AppEnv>): Response => {
    const p = toAcmeProblem(err);
    if (p) return acmeProblemResponse(c, p);
    const requestId = randomUUID();
    log.error({ err, requestId, path: c.req.path }, "ACME: unhandled error");
    return acmeProblemResponse(
      c,
      new AcmeProblem("serverInternal", `internal error; quote request id ${requestId}`),
    );
  };
}
