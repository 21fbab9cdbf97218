import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tlsFetch } from "../../services/agent/issuers/tls-fetch.js";
import { stopChild } from "./acme-support.js";
import { freePort, sh, until } from "./support.js";

export interface ChallTestSrv {
  /** HOST:PORT of its DNS server (every A query answers 127.0.0.1) */
  dns: string;
  /** its management API, for /set-txt and /clear-txt */
  mgmt: string;
  stop(): Promise<void>;
}

/** pebble-challtestsrv as DNS (see the notes), with its management API exposed for TXT records. */
export async function startChallTestSrv(): Promise<ChallTestSrv> {
  const [dnsPort, mgmtPort] = [await freePort(), await freePort()];
  const child = spawn(
    "pebble-challtestsrv",
    [
      ...["-http01", "", "-https01", "", "-tlsalpn01", ""],
      ...["-dns01", `127.0.0.1:${dnsPort}`, "-management", `127.0.0.1:${mgmtPort}`],
      ...["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const mgmt = `http://127.0.0.1:${mgmtPort}`;
  await until("pebble-challtestsrv to answer", async () => {
    const res = await fetch(`${mgmt}/clear-txt`, {
      method: "POST",
      body: JSON.stringify({ host: "_probe.test." }),
    });
    return res.ok;
  });
  return { dns: `127.0.0.1:${dnsPort}`, mgmt, stop: () => stopChild(child) };
}

/**
 * A lego exec-provider script (EXEC_PATH): lego calls it as `present|cleanup FQDN VALUE`, and it
 * sets or clears the TXT record in pebble-challtestsrv.
 */
export function writeExecProvider(file: string, mgmt: string, log: string): void {
  writeFileSync(
    file,
    [
      "#!/bin/sh",
      "set -e",
      `echo "$1 $2 $3" >> '${log}'`,
      'case "$1" in',
      `  present) curl -sf -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ${mgmt}/set-txt ;;`,
      `  cleanup) curl -sf -X POST -d "{\\"host\\":\\"$2\\"}" ${mgmt}/clear-txt ;;`,
      "esac",
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
}

export interface Pebble {
  directory: string;
  /** pebble's management API (its roots at /roots/0) */
  management: string;
  /** the CA file for pebble's own HTTPS (LEGO_CA_CERTIFICATES, REQUESTS_CA_BUNDLE) */
  tlsCa: string;
  stop(): Promise<void>;
}

/**
 * pebble (PEBBLE_VA_NOSLEEP=1, no EAB) validating http-01 on httpPort and tls-alpn-01 on tlsPort,
 * resolving names through `dns` (pebble-challtestsrv); its HTTPS uses a throwaway CA made here.
 */
export async function startPebble(
  work: string,
  dns: string,
  httpPort: number,
  tlsPort: number,
): Promise<Pebble> {
  const tlsCa = join(work, "pebble-tls-ca.pem");
  const caKey = join(work, "pebble-tls-ca.key");
  const key = join(work, "pebble-tls.key");
  const csr = join(work, "pebble-tls.csr");
  const cert = join(work, "pebble-tls.pem");
  const ext = join(work, "pebble-tls.cnf");
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const args of [
    ["req", "-x509", ...ec, "-keyout", caKey, "-out", tlsCa, "-days", "2", "-subj", "/CN=pebble tls ca"],
    ["req", ...ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      tlsCa,
      "-CAkey",
      caKey,
      "-CAcreateserial",
      "-out",
      cert,
      "-days",
      "2",
    ],
  ]) {
    const r = await sh("openssl", args[0] === "x509" ? [...args, "-extfile", ext] : args);
    if (r.code !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  }
  const [acmePort, mgmtPort] = [await freePort(), await freePort()];
  const config = join(work, "pebble.json");
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: cert,
        privateKey: key,
        httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ChildProcess = spawn("pebble", ["-config", config, "-dnsserver", dns], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
  });
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  const pinned = tlsFetch({ ca: readFileSync(tlsCa, "utf8") });
  try {
    await until("pebble to answer", async () => (await pinned.fetch(directory)).ok, 30_000);
  } finally {
    pinned.close();
  }
  return { directory, management: `https://127.0.0.1:${mgmtPort}`, tlsCa, stop: () => stopChild(child) };
}
