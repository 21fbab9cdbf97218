import { type CryptoKey, exportJWK, FlattenedSign, generateKeyPair, type JWK } from "jose";
import { type HttpResult, httpsRequest } from "./ca.js";

/** A small ACME client for tests (RFC 8555), signing with jose, over real HTTPS. */
export class TestAcmeClient {
  directory: Record<string, string> = {};
  accountUrl = "";
  private nonce: string | null = null;

  private constructor(
    readonly directoryUrl: string,
    readonly rootPem: string,
    readonly key: CryptoKey,
    readonly jwk: JWK,
  ) {}

  static async create(directoryUrl: string, rootPem: string): Promise<TestAcmeClient> {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const client = new TestAcmeClient(directoryUrl, rootPem, privateKey, await exportJWK(publicKey));
    const res = await httpsRequest(directoryUrl, rootPem);
    client.directory = res.json<Record<string, string>>();
    return client;
  }

  async freshNonce(): Promise<string> {
    const res = await httpsRequest(this.url("newNonce"), this.rootPem, { method: "HEAD" });
    return String(res.headers["replay-nonce"]);
  }

  url(name: string): string {
    const u = this.directory[name];
    if (!u) throw new Error(`no ${name} in the directory`);
    return u;
  }

  /** Signs a JWS body; `payload` null is POST-as-GET. */
  async sign(
    url: string,
    payload: unknown,
    o: { useJwk?: boolean; nonce?: string; key?: CryptoKey; jwk?: JWK } = {},
  ): Promise<string> {
    const nonce = o.nonce ?? this.nonce ?? (await this.freshNonce());
    this.nonce = null;
    const header: Record<string, unknown> = { alg: "ES256", nonce, url };
    if (o.useJwk || !this.accountUrl) header.jwk = o.jwk ?? this.jwk;
    else header.kid = this.accountUrl;
    const bytes = payload === null ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    const jws = await new FlattenedSign(bytes).setProtectedHeader(header).sign(o.key ?? this.key);
    return JSON.stringify(jws);
  }

  async post(
    url: string,
    payload: unknown,
    o: Parameters<TestAcmeClient["sign"]>[2] = {},
  ): Promise<HttpResult> {
    const raw = await this.sign(url, payload, o);
    return this.send(url, raw);
  }

  async send(url: string, raw: string): Promise<HttpResult> {
    const res = await httpsRequest(url, this.rootPem, {
      method: "POST",
      raw,
      headers: { "content-type": "application/jose+json" },
    });
    const n = res.headers["replay-nonce"];
    if (typeof n === "string") this.nonce = n;
    return res;
  }

  /** newAccount with an External Account Binding (RFC 8555 7.3.4). */
  async register(kid: string, hmac: string): Promise<HttpResult> {
    const url = this.url("newAccount");
    const eab = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(this.jwk)))
      .setProtectedHeader({ alg: "HS256", kid, url })
      .sign(Buffer.from(hmac, "base64url"));
    const res = await this.post(
      url,
      { termsOfServiceAgreed: true, contact: ["mailto:e@x.test"], externalAccountBinding: eab },
      { useJwk: true },
    );
    if (res.status === 201 || res.status === 200) this.accountUrl = String(res.headers.location);
    return res;
  }
}
