import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import type { z } from "zod";
import { malformed, Problem, payloadTooLarge } from "../../../shared/problem.js";
import { decodePem } from "../../../shared/x509/pem.js";
import type { AppEnv } from "./context.js";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The client went away before its request body was complete (a closed connection, a reset):
 * nobody is left to answer, and it is no fault of the CA's, so it is logged as one line at
 * debug (middleware/problems.ts), not as an error with a stack.
 */
export class ClientGone extends Error {
  constructor() {
    super("the client disconnected before the request was complete");
    this.name = "ClientGone";
  }
}

const tooLarge = () => payloadTooLarge(`the body may be at most ${MAX_BODY_BYTES} bytes`);

/**
 * The request body as text, at most MAX_BODY_BYTES (413 beyond). On node it is read straight
 * from the IncomingMessage: building a WHATWG Request and stream around it cost more than the
 * rest of the request's HTTP handling put together.
 */
export async function bodyText(c: Context<AppEnv>): Promise<string> {
  const incoming = c.env?.incoming;
  if (incoming) return readBody(incoming);
  const text = await c.req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw tooLarge();
  return text;
}

/** A node request's body as text, at most MAX_BODY_BYTES (413 beyond, without reading on). */
export function readBody(incoming: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(incoming.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return reject(tooLarge());
    // gone while the request waited for the database (its token, on PostgreSQL): the close and
    // error events below have passed, and waiting for them would never settle
    if (incoming.destroyed && !incoming.readableEnded) return reject(new ClientGone());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      reject(tooLarge());
    };
    const onEnd = () => {
      incoming.off("error", onGone);
      incoming.off("close", onGone);
      resolve(
        chunks.length === 1
          ? (chunks[0] as Buffer).toString("utf8")
          : Buffer.concat(chunks, size).toString("utf8"),
      );
    };
    const onGone = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      reject(new ClientGone());
    };
    incoming.on("data", onData);
    incoming.once("end", onEnd);
    // "aborted" (ECONNRESET) when the connection closes mid-body; a close without an end too
    incoming.once("error", onGone);
    incoming.once("close", onGone);
  });
}

/** Parses the JSON body against a schema; anything else is a 400 problem (415 for another media type). */
export async function jsonBody<T extends z.ZodType>(
  c: Context<AppEnv>,
  schema: T,
  optional = false,
): Promise<z.output<T>> {
  const text = await bodyText(c);
  requireJson(c.req.header("content-type"), text);
  return parseJson(text, schema, optional);
}

/**
 * The API's bodies are application/json (RFC 8259 11); a body sent as anything else (a form,
 * text/plain) is refused with 415 (RFC 9110 15.5.16) rather than guessed at. An empty body
 * without a type is no media type at all (renew's optional body).
 */
export function requireJson(contentType: string | undefined, body: string): void {
  if (contentType === undefined && body.length === 0) return;
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    const given = type ? `it is ${JSON.stringify(type.slice(0, 80))}` : "it has no content type";
    throw new Problem("unsupportedMediaType", `the body must be application/json; ${given}`);
  }
}

/** JSON text against a schema; invalid JSON is a 400 problem, the schema's errors are ZodErrors. */
export function parseJson<T extends z.ZodType>(text: string, schema: T, optional = false): z.output<T> {
  if (optional && text.trim() === "") return schema.parse({});
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw malformed("the body is not valid JSON");
  }
  return schema.parse(data);
}

/** The DER of a PEM "CERTIFICATE REQUEST" (or the older "NEW CERTIFICATE REQUEST"). */
export function csrDer(pem: string): Buffer {
  const blocks = decodePem(pem).filter(
    (b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST",
  );
  if (blocks.length !== 1 || !blocks[0])
    throw malformed('"csr" must hold exactly one PEM CERTIFICATE REQUEST');
  return blocks[0].der;
}
