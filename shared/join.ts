import { z } from "zod";
import { InputError } from "./errors.js";
import { normalizeFingerprint } from "./x509/pem.js";

/**
 * A join string carries what a new host needs in one copy-paste: the CA's URL, the root's
 * fingerprint (so the first contact is authenticated) and an enrolment token.
 * Its URL is checked where it is used (the agent takes only https://, its port in range).
 */
const PREFIX = "cyj1_";

const joinSchema = z
  .object({ url: z.string().min(1), fingerprint: z.string(), token: z.string().min(1) })
  .strict();
export type Join = z.infer<typeof joinSchema>;

export function encodeJoin(j: Join): string {
  const body = { url: j.url, fingerprint: normalizeFingerprint(j.fingerprint), token: j.token };
  return PREFIX + Buffer.from(JSON.stringify(body)).toString("base64url");
}

export function decodeJoin(text: string): Join {
  const t = text.trim();
  if (!t.startsWith(PREFIX)) throw new InputError("not a certyard join string (it starts with cyj1_)");
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(t.slice(PREFIX.length), "base64url").toString("utf8"));
  } catch {
    throw new InputError("the join string is damaged: copy it again whole");
  }
  const parsed = joinSchema.safeParse(data);
  if (!parsed.success) throw new InputError("the join string is damaged: copy it again whole");
  return { ...parsed.data, fingerprint: normalizeFingerprint(parsed.data.fingerprint) };
}
