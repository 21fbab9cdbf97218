import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { init } from "../../services/ca/cli/init.js";
import { startCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

/** What the CA keeps in its data directory, and what it does when that is not as it left it. */
describe("the CA's data directory", () => {
  const dirs: string[] = [];
  const initialised = async (o: { permitDns?: string[]; permitIp?: string[] } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "certyard-data-"));
    dirs.push(dir);
    const data = join(dir, "data");
    await init({ data, name: "Data Root CA", keyType: "ec-p256", ...o });
    return data;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("name constraints come from the intermediate certificate, not from an edited ca.json", async () => {
    const data = await initialised({
      permitDns: ["lan", "localhost"],
      permitIp: ["10.0.0.0/8", "127.0.0.1"],
    });
    const configPath = join(data, "ca.json");
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    // widened by hand: the intermediate still carries only lan, localhost, 10/8 and 127.0.0.1
    const widened = {
      ...config,
      permitDns: [...config.permitDns, "example.com"],
      permitIp: [...config.permitIp, "192.168.0.0/16"],
    };
    writeFileSync(configPath, JSON.stringify(widened));
    const ca = await startCa({ dataDir: data });
    try {
      const token = await ca.createToken({ name: "t", dns: ["**.com", "**.lan"], ip: ["0.0.0.0/0"] });
      const sign = (san: string[]) =>
        ca.request("/v1/sign", { body: { csr: makeCsr({ san }).csrPem }, token });
      for (const san of [["DNS:registry.example.com"], ["IP:192.168.1.1"]]) {
        const res = await sign(san);
        assert.equal(res.status, 403, String(san));
        assert.match(res.json<{ detail: string }>().detail, /outside the CA's name constraints/);
      }
      for (const san of [["DNS:registry.lan"], ["IP:10.1.2.3"]]) {
        assert.equal((await sign(san)).status, 201, String(san));
      }
    } finally {
      await ca.close();
    }
  });
});
