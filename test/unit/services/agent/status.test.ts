import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { AgentContext } from "../../../../services/agent/commands/context.js";
import { certState, status } from "../../../../services/agent/commands/status.js";
import { AgentHome, type Managed } from "../../../../services/agent/state.js";

const T = Date.parse("2026-12-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const day = 86_400_000;

function record(name: string, notAfter: number, renewAt: number): Managed {
  return {
    name,
    issuer: { kind: "ca" },
    dns: [`${name}.lan`],
    ips: [],
    keyType: "ec-p256",
    certFile: `/srv/${name}/domain.crt`,
    keyFile: `/srv/${name}/domain.key`,
    reload: [],
    serial: "01",
    notBefore: iso(notAfter - 30 * day),
    notAfter: iso(notAfter),
    renewAt: iso(renewAt),
    lastResult: { at: iso(notAfter - 20 * day), ok: true, message: "renewed" },
  };
}

describe("status", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const home = () => {
    const d = mkdtempSync(join(tmpdir(), "certyard-status-"));
    dirs.push(d);
    return new AgentHome(d);
  };

  test("a certificate's state: expired, due or ok, whatever its last renewal said", () => {
    assert.equal(certState({ notAfter: iso(T + day), renewAt: iso(T + 2 * day) }, T), "ok");
    assert.equal(certState({ notAfter: iso(T + day), renewAt: iso(T - 1) }, T), "due");
    assert.equal(certState({ notAfter: iso(T), renewAt: iso(T - day) }, T), "expired");
  });

  test("an expired certificate whose last renewal succeeded says expired, in the table and in JSON", () => {
    const h = home();
    h.save(record("old", T - day, T - 10 * day));
    h.save(record("fine", T + 20 * day, T + 10 * day));
    const ctx = { home: h, now: () => T } as unknown as AgentContext; // status reads only these two
    const table = status(ctx, false).split("\n");
    assert.equal(table[0], "NAME\tSTATE\tNAMES\tEXPIRES\tRENEWS\tLAST");
    assert.match(table[1] ?? "", /^fine\tok\t/);
    assert.match(table[2] ?? "", /^old\texpired\told\.lan\t.*\tok$/);
    const rows = JSON.parse(status(ctx, true)) as { name: string; state: string }[];
    assert.deepEqual(
      rows.map((r) => [r.name, r.state]),
      [
        ["fine", "ok"],
        ["old", "expired"],
      ],
    );
  });

  test("a home this user cannot read is an error, not an empty list", () => {
    const h = home();
    h.save(record("r", T + day, T));
    chmodSync(h.dir, 0o700);
    // A real permission fault: this file runs in a process of its own, which acts as nobody
    // (its effective uid) for the read, then takes root back.
    process.seteuid?.(65534);
    try {
      assert.throws(
        () => h.list(),
        /cannot read .*certs: permission denied \(run as the user that runs renew/,
      );
    } finally {
      process.seteuid?.(0);
    }
    assert.equal(h.list().length, 1);
  });
});
