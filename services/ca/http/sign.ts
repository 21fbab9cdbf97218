import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { IssuedCertificate as Issued } from "../../../shared/api.js";
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
      (issued) => send(res, 201, { "content-type": "application/json" }, issuedBody(issued)),
      (err: unknown) => {
        const p: Problem = toProblem(err, deps.log, PATH, deps.storage);
        send(res, p.status, problemHeaders(p), JSON.stringify(p.toJSON()));
      },
    );
  };
}

/** Writes a whole answer, unless the connection is gone or an answer was written already. */
export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer,
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** The chain of the last answer, and its JSON string as bytes: the same in every answer until a rotation. */
let chainOf = "";
let chainJson = Buffer.alloc(0);

/**
 * JSON.stringify(issued), byte for byte, written into one buffer: the chain's JSON is made once
 * per chain, and the fullchain's from the certificate's and the chain's (it is their
 * concatenation, and so is its JSON string without the quotes between them). The answer was a
 * tenth of a signing's garbage as strings: the JSON, then its copy as UTF-8 for the socket.
 */
export function issuedBody(issued: Issued): Buffer {
  const { serial, notBefore, notAfter, certificate, chain, fullchain } = issued;
  const concatenated =
    fullchain.length === certificate.length + chain.length &&
    fullchain.startsWith(certificate) &&
    fullchain.endsWith(chain);
  if (!concatenated) return Buffer.from(JSON.stringify(issued));
  if (chain !== chainOf) {
    chainJson = Buffer.from(JSON.stringify(chain));
    chainOf = chain;
  }
  const head = `{"serial":${JSON.stringify(serial)},"notBefore":${JSON.stringify(notBefore)},"notAfter":${JSON.stringify(notAfter)},"certificate":`;
  const cert = JSON.stringify(certificate);
  const certBytes = Buffer.byteLength(cert);
  const size =
    Buffer.byteLength(head) + certBytes + CHAIN_KEY.length + chainJson.length + FULLCHAIN_KEY.length;
  // the fullchain's string: the certificate's without its closing quote, the chain's without its opening one
  const out = Buffer.allocUnsafe(size + certBytes - 1 + chainJson.length - 1 + 1);
  let at = out.write(head, 0);
  at += out.write(cert, at);
  at += CHAIN_KEY.copy(out, at);
  at += chainJson.copy(out, at);
  at += FULLCHAIN_KEY.copy(out, at);
  at += out.write(cert, at) - 1;
  at += chainJson.copy(out, at, 1);
  out[at++] = 0x7d; // }
  if (at !== out.length) throw new Error(`issuedBody wrote ${at} of ${out.length} bytes`);
  return out;
}

/** issuedBody writes these fields; one added to IssuedCertificate fails to compile here until it does too. */
type Written = "serial" | "notBefore" | "notAfter" | "certificate" | "chain" | "fullchain";
export const issuedBodyCoversIssued: [keyof Issued] extends [Written] ? true : never = true;

const CHAIN_KEY = Buffer.from(',"chain":');
const FULLCHAIN_KEY = Buffer.from(',"fullchain":');
