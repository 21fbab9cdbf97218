import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { parseDuration } from "../../../shared/duration.js";
import type { Problem } from "../../../shared/problem.js";
import { assertTokenUsable } from "../tokens/verifier.js";
import { csrDer, parseJson, readBody, requireJson } from "./body.js";
import type { AppDeps } from "./context.js";
import { authenticate } from "./middleware/auth.js";
import { problemHeaders, toProblem } from "./middleware/problems.js";
import { socketAddress } from "./proxy-protocol.js";

export const SIGN_PATH = "/v1/sign";
const PATH = SIGN_PATH;
export const signSchema = z.object({ csr: z.string().min(1), validity: z.string().optional() }).strict();

/** Whether node's request is POST /v1/sign, which signHandler serves ahead of hono. */
export function isSignRequest(req: IncomingMessage): boolean {
  const url = req.url ?? "";
  return req.method === "POST" && (url === PATH || url.startsWith(`${PATH}?`));
}

/**
 * POST /v1/sign: a token's holder gets a certificate for its CSR. This is the CA's hot path, so
 * it is served from node's request event directly: hono's adapter builds a WHATWG Request and
 * Response around every request, which cost as much as a third of the request's own work
 * outside the crypto. Errors become the same problem documents as everywhere else
 * (toProblem, problemHeaders).
 */
export function signHandler(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const sign = async (req: IncomingMessage) => {
    const address = socketAddress(req.socket);
    const token = await authenticate(deps, req.headers.authorization, "enrol", address);
    try {
      const text = await readBody(req);
      requireJson(req.headers["content-type"], text);
      const body = parseJson(text, signSchema);
      const validityMs = body.validity === undefined ? undefined : parseDuration(body.validity);
      const issued = await deps.authority.sign(token, csrDer(body.csr), validityMs);
      deps.log.info({ serial: issued.serial, token: token.name, notAfter: issued.notAfter }, "issued");
      return issued;
    } catch (err) {
      // The verifier left the token's revocation to the issuing transaction (deferStateFor); a
      // request that failed before it must still answer only that the token is refused.
      try {
        assertTokenUsable(await deps.tokenState(token.id), "enrol", deps.clock(), {
          id: token.id,
          name: token.name,
        });
      } catch (refused) {
        throw await deps.authFailures.note(refused, address, deps.clock());
      }
      // refused in the issuing transaction (used up, revoked meanwhile): counted as well
      throw await deps.authFailures.note(err, address, deps.clock());
    }
  };
  return (req, res) => {
    sign(req).then(
      (issued) => send(res, 201, { "content-type": "application/json" }, JSON.stringify(issued)),
      (err: unknown) => {
        const p: Problem = toProblem(err, deps.log, PATH, deps.storage);
        send(res, p.status, problemHeaders(p), JSON.stringify(p.toJSON()));
      },
    );
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
}
