import { randomUUID } from "node:crypto";
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "pino";
import { z } from "zod";
import { describeIssues, isInputError } from "../../../../shared/errors.js";
import { isProblem, malformed, notFound, Problem, storageUnavailable } from "../../../../shared/problem.js";
import { storageFault } from "../../../../shared/storage-fault.js";
import { ClientGone } from "../body.js";
import type { AppEnv } from "../context.js";

/** The headers of a problem response: its type, Retry-After for 429, the scheme for 401. */
export function problemHeaders(p: Problem): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (p.retryAfter !== undefined) headers["retry-after"] = String(p.retryAfter);
  // RFC 9110 15.5.2: a 401 names the scheme the client should use.
  if (p.status === 401) headers["www-authenticate"] = 'Bearer realm="certyard"';
  return headers;
}

/** Writes a Problem as application/problem+json (RFC 9457). */
export function problemResponse(c: Context, p: Problem): Response {
  return c.body(JSON.stringify(p.toJSON()), p.status as 400, problemHeaders(p));
}

/** Where a failure for want of storage is noted, for /healthz (store/health.ts). */
export interface StorageFaults {
  noted(err: unknown): string | null;
}

/**
 * A full disk or a read-only data directory: 503 with Retry-After, the cause logged in one line.
 * Nothing was stored (SQLite rolled the transaction back; files are replaced whole or not at all).
 */
export function storageProblem(
  err: unknown,
  log: Logger,
  path: string,
  storage?: StorageFaults,
): Problem | null {
  const reason = storage ? storage.noted(err) : storageFault(err);
  if (!reason) return null;
  log.error({ path, cause: err instanceof Error ? err.message : String(err) }, `cannot write: ${reason}`);
  return storageUnavailable();
}

/** The one place errors become problems. An unknown error is a 500 with only a request id. */
export function toProblem(err: unknown, log: Logger, path: string, storage?: StorageFaults): Problem {
  if (isProblem(err)) return err;
  const unavailable = storageProblem(err, log, path, storage);
  if (unavailable) return unavailable;
  if (err instanceof z.ZodError) return malformed(describeZod(err));
  if (isInputError(err)) return malformed(err.message);
  if (err instanceof HTTPException && err.status < 500) {
    return new Problem(err.status === 413 ? "payloadTooLarge" : "malformed", err.message);
  }
  if (err instanceof ClientGone) {
    log.debug({ path }, err.message);
    // written to nobody: the connection is gone
    return malformed(err.message);
  }
  const requestId = randomUUID();
  log.error({ err, requestId, path }, "unhandled error");
  return new Problem("internal", "internal error; quote the request id", { extra: { requestId } });
}

export function onError(log: Logger, storage?: StorageFaults): ErrorHandler<AppEnv> {
  return (err, c) => problemResponse(c, toProblem(err, log, c.req.path, storage));
}

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  problemResponse(c, notFound(`no route for ${c.req.method} ${c.req.path}`));

export function describeZod(err: z.ZodError): string {
  return describeIssues(err.issues);
}
