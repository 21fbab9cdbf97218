import { once } from "node:events";
import type { Writable } from "node:stream";
import { type AuditSearch, auditView } from "../audit/service.js";
import { canonicalJson } from "../core/audit.js";
import { openParts } from "../parts.js";
import { type DataOpts, dataPaths } from "./options.js";

/** `audit list`: oldest first, streamed a page at a time. */
export async function auditList(
  o: DataOpts & AuditSearch & { json?: boolean },
  out: Writable = process.stdout,
): Promise<void> {
  const parts = await openParts(dataPaths(o));
  try {
    let first = true;
    if (!o.json) await write(out, "ID\tAT\tTYPE\tACTOR\tSUBJECT\tDETAILS\n");
    for await (const page of parts.audit.pages(o)) {
      let text = "";
      for (const e of page) {
        if (o.json) {
          text += `${first ? "[\n" : ",\n"}${indent(JSON.stringify(auditView(e), null, 2))}`;
          first = false;
        } else {
          const at = new Date(e.at).toISOString();
          text += `${e.id}\t${at}\t${e.type}\t${e.actor.kind}:${e.actor.id}\t${e.subject ?? "-"}\t${canonicalJson(e.details)}\n`;
        }
      }
      await write(out, text);
    }
    if (o.json) await write(out, first ? "[]\n" : "\n]\n");
  } finally {
    await parts.close();
  }
}

/** `audit verify`: the line to print and the exit code (0 intact, 1 naming the first bad event). */
export async function auditVerify(o: DataOpts): Promise<{ line: string; code: number }> {
  const parts = await openParts(dataPaths(o));
  try {
    const v = await parts.audit.verify();
    if (v.ok) return { line: `audit trail intact: ${v.count} events, head ${v.head}`, code: 0 };
    return { line: `audit trail broken: ${v.fault.message}`, code: 1 };
  } finally {
    await parts.close();
  }
}

const indent = (text: string) => text.replace(/^/gm, "  ");

async function write(out: Writable, text: string): Promise<void> {
  if (text && !out.write(text)) await once(out, "drain");
}
