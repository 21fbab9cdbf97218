import type { Managed } from "../state.js";
import type { AgentContext } from "./context.js";

/**
 * What a certificate's record says now: expired (the host serves a certificate clients refuse),
 * due (its renewal time has passed: renew has not run, or failed), or ok. The last renewal's
 * result is shown beside it, never in its place: a renewal that succeeded once says nothing of
 * a certificate that has expired since.
 */
export function certState(m: Pick<Managed, "notAfter" | "renewAt">, now: number): "expired" | "due" | "ok" {
  if (now >= Date.parse(m.notAfter)) return "expired";
  if (now >= Date.parse(m.renewAt)) return "due";
  return "ok";
}

export function status(ctx: AgentContext, json: boolean): string {
  const now = ctx.now();
  const rows = ctx.home.list().map((m) => ({
    name: m.name,
    state: certState(m, now),
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
      r.state,
      r.names.join(","),
      r.notAfter,
      r.renewAt,
      r.lastResult ? (r.lastResult.ok ? "ok" : `failed: ${r.lastResult.message}`) : "-",
    ].join("\t"),
  );
  return ["NAME\tSTATE\tNAMES\tEXPIRES\tRENEWS\tLAST", ...lines].join("\n");
}
