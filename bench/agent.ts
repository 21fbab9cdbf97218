/**
 * The agent daemon's idle memory beside a bare node on the same runtime: `certyard-agent run` on
 * a home bootstrapped against the bench's CA and managing one certificate, and
 * `node -e 'setInterval(()=>{},1e9)'`, both started together and measured after the same wait
 * (PSS: node's code pages are shared with every other node process on the machine, so only the
 * two measured side by side compare).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type CaProcess, createToken, type ProcessMemory, processMemory } from "./ca-process.js";
import { pemToDer, run } from "./util.js";

const AGENT_MAIN = fileURLToPath(new URL("../services/agent/main.js", import.meta.url));

export interface AgentIdle {
  agent: ProcessMemory;
  bareNode: ProcessMemory;
}

export async function agentIdle(
  ca: CaProcess,
  data: string,
  dir: string,
  settleSeconds: number,
): Promise<AgentIdle> {
  const home = join(dir, "home");
  const out = join(dir, "out");
  await mkdir(out, { recursive: true });
  const fingerprint = createHash("sha256").update(pemToDer(ca.rootPem)).digest("hex");
  const agent = (args: string[]) => run(process.execPath, [AGENT_MAIN, ...args, "--home", home]);
  await agent(["bootstrap", "--ca", ca.baseUrl, "--fingerprint", fingerprint]);
  const token = await createToken(data, "bench-agent");
  await agent(["cert", "--name", "bench", "--token", token, "--dns", "registry.lan", "--out", out]);

  const daemon = spawn(process.execPath, [AGENT_MAIN, "run", "--home", home, "--log-level", "warn"], {
    stdio: "ignore",
  });
  const bare = spawn(process.execPath, ["-e", "setInterval(()=>{},1e9)"], { stdio: "ignore" });
  try {
    await Promise.all([once(daemon, "spawn"), once(bare, "spawn")]);
    await delay(settleSeconds * 1000);
    const [a, b] = await Promise.all([processMemory(pid(daemon)), processMemory(pid(bare))]);
    return { agent: a, bareNode: b };
  } finally {
    await Promise.all([stop(daemon), stop(bare)]);
  }
}

function pid(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error("a child did not start");
  return child.pid;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, "exit");
  child.kill("SIGTERM");
  // the daemon lets a renewal or root check under way finish first; the bench need not wait
  const late = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(late);
}
