import { openParts } from "../parts.js";
import { type DataOpts, dataPaths } from "./options.js";

/** `hosts list`: each host's last report; with --json the array GET /v1/hosts answers. */
export async function hostsList(o: DataOpts & { json?: boolean }): Promise<string> {
  const parts = await openParts(dataPaths(o));
  try {
    const rows = await parts.hosts.list();
    if (o.json) return JSON.stringify(rows, null, 2);
    const lines = rows.map((h) =>
      [
        h.name,
        h.host,
        h.lastSeen,
        h.drift ? "DRIFT" : h.servedSha256 === null ? "unknown" : "ok",
        h.renewAt ?? "-",
        h.error === null ? "" : h.error.replace(/\s+/g, " "),
      ].join("\t"),
    );
    return ["NAME\tHOST\tLAST_SEEN\tSERVES\tRENEW_AT\tERROR", ...lines].join("\n");
  } finally {
    await parts.close();
  }
}
