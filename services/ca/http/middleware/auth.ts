import type { MiddlewareHandler } from "hono";
import { unauthorized } from "../../../../shared/problem.js";
import type { TokenKind, TokenRecord } from "../../core/types.js";
import type { AppDeps, AppEnv } from "../context.js";
import { clientAddress } from "../context.js";

type AuthDeps = Pick<AppDeps, "verifyToken" | "authFailures" | "clock">;

/**
 * The token of an "Authorization: Bearer" header, verified: an address that failed too often
 * lately gets 429 first, whatever it sends; a refused token is counted and logged against it.
 */
export async function authenticate(
  deps: AuthDeps,
  header: string | undefined,
  kind: TokenKind,
  address: string,
): Promise<TokenRecord> {
  const now = deps.clock();
  await deps.authFailures.check(address, now);
  const credential = bearerCredential(header, kind);
  try {
    return await deps.verifyToken(credential, kind, now);
  } catch (err) {
    throw await deps.authFailures.note(err, address, now);
  }
}

/** Bearer-token auth (see authenticate); sets `token` for the route. */
export function bearerAuth(deps: AuthDeps, kind: TokenKind): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("token", await authenticate(deps, c.req.header("authorization"), kind, clientAddress(c.env)));
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

/** Whether the request carries the admin token (verified as authenticate does); false when it carries none. */
export async function optionalAdmin(
  deps: AuthDeps,
  header: string | undefined,
  address: string,
): Promise<boolean> {
  if (!/^Bearer\s+(\S+)\s*$/i.test(header ?? "")) return false;
  await authenticate(deps, header, "admin", address);
  return true;
}
