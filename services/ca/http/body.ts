import type { Context } from "hono";
import type { z } from "zod";
import { malformed } from "../../../shared/problem.js";
import { decodePem } from "../../../shared/x509/pem.js";

/** Parses the JSON body against a schema; anything else is a 400 problem. */
export async function jsonBody<T extends z.ZodType>(
  c: Context,
  schema: T,
  optional = false,
): Promise<z.output<T>> {
  const text = await c.req.text();
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
