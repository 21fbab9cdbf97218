import { spawn } from "node:child_process";

/**
 * A built program of ours run with this node, without blocking this process (a CA or TLS server
 * it talks to may run in it): its exit code and everything it wrote.
 */
export function runAsync(
  bin: string,
  args: string[],
  o: { env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...o.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.stdin ?? "");
  });
}
