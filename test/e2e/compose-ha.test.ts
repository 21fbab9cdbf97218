import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { HAPROXY } from "../helpers/haproxy.js";
import { sh } from "./support.js";

/**
 * compose.yaml's profile "ha" (issue 17): PostgreSQL, a one-shot init, two CA replicas and
 * HAProxy, as docker-compose reads it, and contrib/haproxy/haproxy.cfg as HAProxy reads it.
 * Nothing is run: these machines cannot pull the postgres and haproxy images.
 */
const FILE = fileURLToPath(new URL("../../../compose.yaml", import.meta.url));
const HA_CFG = fileURLToPath(new URL("../../../contrib/haproxy/haproxy.cfg", import.meta.url));

interface ComposeService {
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { aliases?: string[] } | null>;
  ports?: { published: number; target: number }[];
  volumes?: string[];
}

/** `docker-compose --profile ha config`, parsed. */
async function haConfig(env: Record<string, string>): Promise<{ services: Record<string, ComposeService> }> {
  const r = await sh("docker-compose", ["-f", FILE, "--profile", "ha", "config"], { env });
  assert.equal(r.code, 0, r.stderr);
  return parse(r.stdout);
}

test("profile ha: PostgreSQL, two replicas on it sharing the keys, HAProxy in front on 8443", async () => {
  const { services } = await haConfig({ CERTYARD_HOST: "10.0.0.4", CERTYARD_PG_PASSWORD: "s3cret" });
  const ha = ["postgres", "ca-init", "ca-1", "ca-2", "haproxy"];
  for (const name of ha) assert.deepEqual(services[name]?.profiles, ["ha"], name);
  // the single CA and the registry stay outside the profile, as they were
  for (const name of ["ca", "registry", "agent"]) assert.equal(services[name]?.profiles, undefined, name);
  for (const name of ["ca-init", "ca-1", "ca-2"]) {
    const s = services[name];
    assert.equal(s?.environment?.CERTYARD_DB, "postgres://certyard:s3cret@postgres:5432/certyard", name);
    assert.equal(s?.environment?.CERTYARD_URL, "https://10.0.0.4:8443", name);
    assert.ok(s?.volumes?.includes("ca-data:/data:rw"), `${name} shares the keys: ${s?.volumes}`);
  }
  assert.deepEqual(services["ca-1"]?.command?.slice(0, 4), [
    "certyard-ca",
    "serve",
    "--listen",
    "0.0.0.0:8443",
  ]);
  assert.deepEqual(services["ca-1"]?.command, services["ca-2"]?.command);
  assert.equal(services["ca-1"]?.depends_on?.["ca-init"]?.condition, "service_completed_successfully");
  for (const name of ["ca-1", "ca-2"]) {
    assert.equal(
      services[name]?.environment?.CERTYARD_PROXY_PROTOCOL_FROM,
      "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
    );
    assert.equal(services[name]?.ports, undefined, `${name} is reached through HAProxy only`);
  }
  assert.equal(services["ca-init"]?.depends_on?.postgres?.condition, "service_healthy");
  assert.equal(services.postgres?.environment?.POSTGRES_PASSWORD, "s3cret");
  // the database is on an internal network of its own, not published
  assert.deepEqual(Object.keys(services.postgres?.networks ?? {}), ["ha-db"]);
  assert.equal(services.postgres?.ports, undefined);
  assert.deepEqual(services.haproxy?.ports, [{ published: 8443, target: 8443 }]);
  assert.deepEqual(services.haproxy?.networks?.default?.aliases, ["ca"]);
  assert.ok(services.haproxy?.volumes?.includes(`${HA_CFG}:/usr/local/etc/haproxy/haproxy.cfg:ro`));
});

test("profile ha still asks for CERTYARD_HOST", async () => {
  // sh() adds this process's environment: env -u takes CERTYARD_HOST out of it
  const r = await sh("env", [
    "-u",
    "CERTYARD_HOST",
    "docker-compose",
    "-f",
    FILE,
    "--profile",
    "ha",
    "config",
    "-q",
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /set CERTYARD_HOST to the address other hosts reach this one at/);
});

test("contrib/haproxy/haproxy.cfg: HAProxy takes it, TCP round robin over the compose replicas with /healthz checks", async () => {
  const r = await sh(HAPROXY, ["-c", "-f", HA_CFG]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /Configuration file is valid/);
  const cfg = readFileSync(HA_CFG, "utf8");
  assert.match(cfg, /^\s*mode tcp$/m);
  assert.match(cfg, /^\s*balance roundrobin$/m);
  assert.match(cfg, /^\s*option httpchk GET \/healthz$/m);
  assert.match(cfg, /^\s*bind :8443$/m);
  assert.match(cfg, /^\s*default-server send-proxy-v2 check-send-proxy$/m);
  const servers = [...cfg.matchAll(/^\s*server (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(servers, [
    ["ca-1", "ca-1:8443"],
    ["ca-2", "ca-2:8443"],
  ]);
});
