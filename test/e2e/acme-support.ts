import { type ChildProcess, spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { CA_CLI, type CaProcess, freePort, node, until } from "./support.js";

/** startCaProcess with extra serve flags (the --acme-* ones), same output and shutdown. */
export async function startCaProcessWith(data: string, extra: string[]): Promise<CaProcess> {
  const port = await freePort();
  const args = [CA_CLI, "serve", "--data", data, "--listen", `127.0.0.1:${port}`, "--workers", "1"];
  args.push("--tls-ip", "127.0.0.1", "--log-level", "warn", ...extra);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await until("the CA to listen", async () => out.includes("root fingerprint:"), 60_000);
  return { url: `https://127.0.0.1:${port}`, data, child, stop: () => stopChild(child) };
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** pebble-challtestsrv as a DNS server that answers every name with 127.0.0.1 (see the notes). */
export async function startFakeDns(): Promise<{ address: string; stop(): Promise<void> }> {
  const dnsPort = await freePort();
  const mgmtPort = await freePort();
  const child = spawn(
    "pebble-challtestsrv",
    [
      ...["-http01", "", "-https01", "", "-tlsalpn01", ""],
      ...["-dns01", `127.0.0.1:${dnsPort}`, "-management", `127.0.0.1:${mgmtPort}`],
      ...["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  await until(
    "pebble-challtestsrv to answer",
    async () => (await resolver.resolve4("probe.test")).length > 0,
    15_000,
  );
  return { address: `127.0.0.1:${dnsPort}`, stop: () => stopChild(child) };
}

/** `certyard-ca eab create` on the CA's data directory: the EAB's [kid, hmac]. */
export async function createEab(data: string, name: string, ...policy: string[]): Promise<[string, string]> {
  const r = await node(CA_CLI, ["eab", "create", "--data", data, "--name", name, ...policy]);
  if (r.code !== 0) throw new Error(`eab create: ${r.stderr}`);
  const [kid, hmac] = r.stdout.trim().split(" ");
  if (!kid || !hmac) throw new Error(`eab create printed ${r.stdout}`);
  return [kid, hmac];
}
