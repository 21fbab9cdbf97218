import { spawn } from "node:child_process";

/**
 * Runs a command the user gave (an exec: reload, a dns-01 hook) through /bin/sh; its output goes
 * to the agent's stderr. (Programs the agent runs itself, with argv and no shell: trust-tool.ts.)
 */
export function runShell(
  command: string,
  env: Record<string, string> = {},
  o: { cwd?: string; timeoutMs?: number } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, ...env },
      timeout: o.timeoutMs ?? 120_000,
      ...(o.cwd ? { cwd: o.cwd } : {}),
    });
    child.on("error", (e) => reject(new Error(`cannot run "${command}": ${e.message}`)));
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`"${command}" failed with ${signal ? `signal ${signal}` : `exit code ${code}`}`));
    });
  });
}
