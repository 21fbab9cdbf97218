import { X509Certificate } from "node:crypto";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  FlattenedSign,
  generateKeyPair,
  type JWK,
} from "jose";
import { externalAccountBinding } from "../../services/agent/issuers/acme/jws.js";
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
    const eab = await externalAccountBinding(this.jwk, { kid, hmacKey: hmac, url });
    const res = await this.post(
      url,
      { termsOfServiceAgreed: true, contact: ["mailto:e@x.test"], externalAccountBinding: eab },
      { useJwk: true },
    );
    if (res.status === 201 || res.status === 200) this.accountUrl = String(res.headers.location);
    return res;
  }

  /**
   * keyChange (RFC 8555 7.3.5): the inner JWS, signed by the new key, carries the account URL and
   * the old key; the outer one is signed by the current account key. Returns the response.
   */
  async keyChange(newKey: CryptoKey, newJwk: JWK, o: { oldJwk?: JWK; innerUrl?: string } = {}) {
    const url = this.url("keyChange");
    const inner = await new FlattenedSign(
      new TextEncoder().encode(JSON.stringify({ account: this.accountUrl, oldKey: o.oldJwk ?? this.jwk })),
    )
      .setProtectedHeader({ alg: "ES256", jwk: newJwk, url: o.innerUrl ?? url })
      .sign(newKey);
    return this.post(url, inner);
  }

  /**
   * One whole issuance (RFC 8555 7.4): newOrder for `identifier`, http-01 answered through
   * `answer(token, keyAuthorization)`, finalize with `csrDer`, download. Throws on any failure.
   */
  async issue(
    identifier: { type: string; value: string },
    csrDer: Uint8Array,
    answer: (token: string, keyAuthorization: string) => void,
  ): Promise<{ orderUrl: string; certUrl: string; leafPem: string; leafDer: Uint8Array }> {
    const order = await this.post(this.url("newOrder"), { identifiers: [identifier] });
    if (order.status !== 201) throw new Error(`newOrder: ${order.status} ${order.body.toString()}`);
    const o = order.json<{ authorizations: string[]; finalize: string }>();
    const authz = await this.post(String(o.authorizations[0]), null);
    const ch = authz
      .json<{ challenges: { type: string; url: string; token: string }[] }>()
      .challenges.find((c) => c.type === "http-01");
    if (!ch) throw new Error("no http-01 challenge");
    answer(ch.token, `${ch.token}.${await calculateJwkThumbprint(this.jwk)}`);
    const done = await this.post(ch.url, {});
    if (done.json().status !== "valid") throw new Error(`challenge: ${done.body.toString()}`);
    const fin = await this.post(o.finalize, { csr: Buffer.from(csrDer).toString("base64url") });
    if (fin.status !== 200) throw new Error(`finalize: ${fin.status} ${fin.body.toString()}`);
    const certUrl = fin.json<{ certificate: string }>().certificate;
    const cert = await this.post(certUrl, null);
    const leafPem = cert.body
      .toString()
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/)?.[0];
    if (cert.status !== 200 || !leafPem) throw new Error(`download: ${cert.status}`);
    return {
      orderUrl: String(order.headers.location),
      certUrl,
      leafPem,
      leafDer: new X509Certificate(leafPem).raw,
    };
  }
}
