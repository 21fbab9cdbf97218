import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { Problem } from "../../../../shared/problem.js";
import { csrDer, parseJson, readBody, requireJson } from "../body.js";
import { type AppDeps, peerCertificate } from "../context.js";
import { problemHeaders, toProblem } from "../middleware/problems.js";
import { issuedBody, send } from "../sign.js";

export const RENEW_PATH = "/v1/renew";
export const renewSchema = z.object({ csr: z.string().min(1).optional() }).strict();

/** Whether node's request is POST /v1/renew, which renewHandler serves ahead of hono. */
export function isRenewRequest(req: IncomingMessage): boolean {
  const url = req.url ?? "";
  return req.method === "POST" && (url === RENEW_PATH || url.startsWith(`${RENEW_PATH}?`));
}

/**
 * POST /v1/renew: the current certificate, presented over mutual TLS, is the credential. Served
 * from node's request event, as POST /v1/sign is (http/sign.ts): each renewal is a new
 * connection, and hono's adapter (a WHATWG Request and Response around it) was work a renewal
 * need not do. Errors are the same problem documents as hono's onError writes.
 */
export function renewHandler(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const renew = async (req: IncomingMessage) => {
    const text = await readBody(req);
    requireJson(req.headers["content-type"], text);
    const body = parseJson(text, renewSchema, true);
    const issued = await deps.authority.renew(
      peerCertificate({ incoming: req }),
      body.csr ? csrDer(body.csr) : null,
    );
    deps.log.info({ serial: issued.serial, notAfter: issued.notAfter }, "renewed");
    return issued;
  };
  return (req, res) => {
    renew(req).then(
      (issued) => send(res, 201, { "content-type": "application/json" }, issuedBody(issued)),
      (err: unknown) => {
        const p: Problem = toProblem(err, deps.log, RENEW_PATH, deps.storage);
        send(res, p.status, problemHeaders(p), JSON.stringify(p.toJSON()));
      },
    );
  };
}
