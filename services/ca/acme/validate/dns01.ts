import { createHash } from "node:crypto";
import type { Identifier } from "../../../../shared/acme/types.js";
import { incorrectResponse } from "../../../../shared/problem.js";
import type { NameResolver } from "./resolve.js";

/** RFC 8555 8.4 dns-01: a TXT record at _acme-challenge.NAME holding base64url(SHA-256(keyAuth)). */
export async function dns01(
  identifier: Identifier,
  resolver: NameResolver,
  keyAuthorization: string,
): Promise<void> {
  const name = `_acme-challenge.${identifier.value}`;
  const want = createHash("sha256").update(keyAuthorization).digest("base64url");
  const records = await resolver.txt(name);
  if (!records.includes(want)) throw incorrectResponse(`no TXT record at ${name} has the expected digest`);
}
