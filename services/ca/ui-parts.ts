import type { EabService } from "./acme/eabs.js";
import type { AuditService } from "./audit/service.js";
import type { Authority } from "./authority/authority.js";
import type { CertificateDetail, UiDeps } from "./http/ui/deps.js";
import type { StorePorts } from "./store/ports.js";
import type { TokenService } from "./tokens/service.js";

/** The dashboard's parts (http/ui/deps.ts), from the store's async ports and the services serve built. */
export function uiParts(
  store: StorePorts,
  parts: { tokens: TokenService; eabs: EabService; audit: AuditService; authority: Authority; url: string },
): UiDeps {
  return {
    sessions: store.sessions,
    // read at every load: certificate_days makes it a few milliseconds (store/dashboard.ts)
    async overview(now, days) {
      const { counts, ...timeline } = await store.dashboard.expiryTimeline(now, days);
      return { counts, timeline, at: now };
    },
    async certificate(serial) {
      const record = await store.certificates.bySerial(serial);
      if (!record) return null;
      const chain = await parts.authority.chainOf(serial);
      let requester: CertificateDetail["requester"] = null;
      if (record.tokenId !== null) {
        requester = { token: (await store.tokens.byId(record.tokenId))?.name ?? record.tokenId };
      } else {
        const order = await store.acme.orders.byCertSerial(serial);
        if (order) {
          const account = await store.acme.accounts.byId(order.accountId);
          const eab = account ? await store.acme.eab(account.eabKid) : null;
          requester = { acmeAccount: order.accountId, eab: eab?.name ?? null };
        }
      }
      return {
        record,
        chainPem: chain?.chain ?? "",
        requester,
        renewedBy: await store.certificates.successorOf(serial),
      };
    },
    tokens: {
      list: async () => parts.tokens.list(),
      create: async (req, actor) => parts.tokens.create(req, actor),
      revoke: async (name, actor) => parts.tokens.revoke(name, actor),
      idOf: async (nameOrId) => await store.tokens.idOf(nameOrId),
    },
    eabs: {
      list: async () => parts.eabs.list(),
      create: async (req, actor) => parts.eabs.create(req, actor),
      revoke: async (name, actor) => parts.eabs.revoke(name, actor),
    },
    hostReports: async () => await store.hosts.hostReports(),
    audit: (e) => store.audit.append(e),
    auditEvents: (q) => parts.audit.list(q),
    async crl() {
      const latest = await store.crls.latest();
      return (
        latest && { number: latest.number, thisUpdate: latest.thisUpdate, nextUpdate: latest.nextUpdate }
      );
    },
    url: parts.url,
  };
}
