import { INVENTORY_STATES, type InventoryState } from "../core/inventory.js";
import { type AnyColumn, and, gt, inArray, isNotNull, isNull, lte, type SQL, sql } from "./drizzle.cjs";

/** The columns of the certificates table that tell a certificate's state, in either dialect. */
export interface StateColumns {
  revokedAt: AnyColumn;
  notAfter: AnyColumn;
  renewedBy: AnyColumn;
}

/**
 * The SQL of stateOf, for the states asked for: what stateOf would say of each row it keeps.
 * One state, and the usual sets, are plain ANDs that the database runs on an index in the
 * inventory's order (the revoked and the superseded on their partial indexes, the rest on
 * certificates_not_after from or up to now). Other sets compare the state itself, which is
 * filtered along the order: an OR of the states would make the database collect every match
 * and sort them again for each page.
 */
export function statesCondition(
  c: StateColumns,
  states: readonly InventoryState[],
  now: number,
): SQL | undefined {
  const has = new Set(states);
  const notRevoked = isNull(c.revokedAt);
  const live = and(notRevoked, gt(c.notAfter, now));
  if (has.size === INVENTORY_STATES.length) return undefined;
  if (has.size === 1) {
    const [only] = has;
    if (only === "revoked") return isNotNull(c.revokedAt);
    if (only === "expired") return and(notRevoked, lte(c.notAfter, now));
    if (only === "superseded") return and(live, isNotNull(c.renewedBy));
    return and(live, isNull(c.renewedBy));
  }
  if (!has.has("revoked") && has.has("valid") && has.has("superseded")) {
    return has.has("expired") ? notRevoked : live;
  }
  return inArray(stateSql(c, now), [...has]);
}

/** stateOf (core/inventory.ts) in SQL. */
export function stateSql(c: StateColumns, now: number): SQL<string> {
  return sql<string>`case when ${c.revokedAt} is not null then 'revoked' when ${c.notAfter} <= ${now} then 'expired'
    when ${c.renewedBy} is not null then 'superseded' else 'valid' end`;
}
