/** The response bodies of the CA's API as JSON Schema (draft 2020-12), for document.ts. */

const str = { type: "string" };
const time = { type: "string", format: "date-time" };
const pemText = { type: "string", description: "PEM" };
const strings = { type: "array", items: str };

export const responseSchemas = {
  Problem: {
    type: "object",
    description: "RFC 9457 problem details",
    required: ["type", "title", "status"],
    properties: { type: str, title: str, status: { type: "integer" }, detail: str, instance: str },
  },
  Health: { type: "object", required: ["status"], properties: { status: { const: "ok" } } },
  Root: {
    type: "object",
    required: ["pem", "sha256"],
    properties: {
      pem: { ...pemText, description: "the current root, PEM" },
      sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
      roots: {
        ...pemText,
        description: "every root served, as /roots.pem: after a root rotation the earlier one too",
      },
      cross: {
        type: "string",
        description: "PEM, empty before a root rotation: each later root certified by the earlier one",
      },
    },
  },
  IssuedCertificate: {
    type: "object",
    required: ["serial", "notBefore", "notAfter", "certificate", "chain", "fullchain"],
    properties: {
      serial: { type: "string", pattern: "^[0-9a-f]+$" },
      notBefore: time,
      notAfter: time,
      certificate: { ...pemText, description: "the leaf, PEM" },
      chain: { ...pemText, description: "the intermediate(s), PEM" },
      fullchain: { ...pemText, description: "leaf and intermediates, PEM" },
    },
  },
  Revoked: {
    type: "object",
    required: ["serial", "status"],
    properties: { serial: str, status: { const: "revoked" } },
  },
  Inventory: {
    type: "object",
    required: ["certificates", "next"],
    properties: {
      certificates: {
        type: "array",
        items: {
          type: "object",
          properties: {
            serial: str,
            commonName: { type: ["string", "null"] },
            dns: strings,
            ips: strings,
            notBefore: time,
            notAfter: time,
            keySha256: str,
            tokenId: { type: ["string", "null"] },
            renewedFrom: { type: ["string", "null"] },
            revoked: { type: "boolean" },
            state: { enum: ["valid", "superseded", "expired", "revoked"] },
          },
        },
      },
      next: { type: ["string", "null"], description: "the cursor of the next page; null on the last" },
    },
  },
  Hosts: {
    type: "array",
    items: {
      type: "object",
      required: ["name", "host", "lastSeen", "servedSha256", "newestSha256", "drift", "renewAt", "error"],
      properties: {
        name: { type: "string", description: "the agent's managed name" },
        host: str,
        lastSeen: time,
        servedSha256: { type: ["string", "null"], description: "SHA-256 of the certificate the host serves" },
        newestSha256: {
          type: ["string", "null"],
          description: "SHA-256 of the newest unrevoked certificate issued for the host's names",
        },
        drift: { type: "boolean", description: "servedSha256 differs from newestSha256" },
        renewAt: { type: ["string", "null"], format: "date-time" },
        error: { type: ["string", "null"], description: "the host's last error" },
      },
    },
  },
  NewToken: {
    type: "object",
    required: ["id", "name", "token"],
    properties: {
      id: str,
      name: str,
      dns: strings,
      ip: strings,
      maxValidityMs: { type: "integer" },
      expiresAt: { type: ["string", "null"], format: "date-time" },
      usesLeft: { type: ["integer", "null"] },
      rate: { type: "object", properties: { limit: { type: "integer" }, windowMs: { type: "integer" } } },
      revoked: { type: "boolean" },
      token: { type: "string", description: "the secret, shown once" },
    },
  },
};

export function issued(description: string) {
  return {
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/IssuedCertificate" } } },
  };
}
