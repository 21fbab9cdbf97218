import type { AgentContext } from "./context.js";

export function status(ctx: AgentContext, json: boolean): string {
  const rows = ctx.home.list().map((m) => ({
    name: m.name,
    names: [...m.dns, ...m.ips],
    serial: m.serial,
    notAfter: m.notAfter,
    renewAt: m.renewAt,
    certFile: m.certFile,
    lastResult: m.lastResult ?? null,
  }));
  if (json) return JSON.stringify(rows, null, 2);
  const lines = rows.map((r) =>
    [
      r.name,
      r.names.join(","),
      r.notAfter,
      r.renewAt,
      r.lastResult ? (r.lastResult.ok ? "ok" : `failed: ${r.lastResult.message}`) : "-",
    ].join("\t"),
  );
  return ["NAME\tNAMES\tEXPIRES\tRENEWS\tLAST", ...lines].join("\n");
}
