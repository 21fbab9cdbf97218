import type { MiddlewareHandler } from "hono";
import { unauthorized } from "../../../../shared/problem.js";
import type { TokenKind } from "../../core/types.js";
import type { TokenVerifier } from "../../tokens/verifier.js";
import type { AppEnv } from "../context.js";

/** Bearer-token auth backed by the verifier main passes in; sets `token` for the route. */
export function bearerAuth(
  verify: TokenVerifier,
  kind: TokenKind,
  clock: () => number,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("token", await verify(bearerCredential(c.req.header("authorization"), kind), kind, clock()));
    await next();
  };
}

/** The credential of an "Authorization: Bearer" header; a 401 problem when there is none. */
export function bearerCredential(header: string | undefined, kind: TokenKind): string {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m?.[1]) {
    throw unauthorized(
      `send ${kind === "admin" ? "the admin token" : "a token"} as "Authorization: Bearer <token>"`,
    );
  }
  return m[1];
}

/** The token of the request if it is the admin token, else null; for routes open to two kinds of caller. */
export async function optionalAdmin(
  verify: TokenVerifier,
  header: string | undefined,
  now: number,
): Promise<boolean> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m?.[1]) return false;
  await verify(m[1], "admin", now);
  return true;
}
