import { lookup, Resolver } from "node:dns/promises";
import type { Identifier } from "../../../../shared/acme/types.js";
import { dnsProblem } from "../../../../shared/problem.js";

/**
 * Where validation connects: an IP identifier is its own address; a DNS name is asked of the
 * --acme-dns-resolver server when one is given (tests, split DNS), else of the system resolver.
 */
export function makeResolver(server: string | undefined) {
  let resolver: Resolver | null = null;
  if (server) {
    resolver = new Resolver({ timeout: 3000, tries: 2 });
    resolver.setServers([server]);
  }
  return {
    async addresses(id: Identifier): Promise<string[]> {
      if (id.type === "ip") return [id.value];
      try {
        if (!resolver) return (await lookup(id.value, { all: true })).map((a) => a.address);
        const v4 = await resolver.resolve4(id.value).catch(() => [] as string[]);
        const v6 = v4.length ? [] : await resolver.resolve6(id.value).catch(() => [] as string[]);
        const all = [...v4, ...v6];
        if (all.length === 0) throw new Error("no A or AAAA records");
        return all;
      } catch (e) {
        throw dnsProblem(`cannot resolve ${id.value}: ${(e as Error).message}`);
      }
    },
    async txt(name: string): Promise<string[]> {
      try {
        const r = resolver ?? new Resolver({ timeout: 3000, tries: 2 });
        return (await r.resolveTxt(name)).map((chunks) => chunks.join(""));
      } catch (e) {
        throw dnsProblem(`no TXT record at ${name}: ${(e as Error).message}`);
      }
    },
  };
}
export type NameResolver = ReturnType<typeof makeResolver>;
