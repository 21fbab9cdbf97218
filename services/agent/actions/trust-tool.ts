import { execFileSync } from "node:child_process";

/** A step of `trust` that another program carries out (certutil for NSS, keytool for Java). */
export interface ToolStep {
  /** the output line: what it did, or "unchanged ..." when it needs no run */
  label: string;
  command: string[];
  /** given to the command on stdin (a PEM) */
  input?: string;
  changed: boolean;
}

export interface ToolResult {
  code: number;
  out: string;
}

/** Runs a command with no shell; its exit code and stdout+stderr, or a one-line Error if it cannot start. */
export function runTool(command: string[], input?: string): ToolResult {
  const [cmd = "", ...args] = command;
  try {
    const out = execFileSync(cmd, args, {
      input: input ?? "",
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 120_000,
      encoding: "utf8",
    });
    return { code: 0, out };
  } catch (e) {
    const err = e as { status?: number | null; stdout?: string; stderr?: string; message: string };
    if (typeof err.status !== "number") throw new Error(`cannot run ${cmd}: ${err.message.split("\n")[0]}`);
    return { code: err.status, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

/** Runs it and fails with its first line of output unless it exits 0. */
export function runToolOrFail(command: string[], input?: string): string {
  const r = runTool(command, input);
  if (r.code !== 0) {
    const first = r.out.trim().split("\n")[0] ?? "";
    throw new Error(`${command.slice(0, 2).join(" ")} ... failed (exit ${r.code}): ${first}`);
  }
  return r.out;
}
