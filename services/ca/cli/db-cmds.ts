import { copyDatabase } from "../store/copy.js";
import { parseDbUrl } from "../store/db-url.js";

/** `db copy --from URL --to URL`: moves the CA's database, checked; prints what it copied. */
export async function dbCopyCommand(o: { from: string; to: string }): Promise<void> {
  // both URLs are explicit: a relative sqlite:PATH is taken from the working directory
  const from = parseDbUrl(o.from, process.cwd());
  const to = parseDbUrl(o.to, process.cwd());
  const r = await copyDatabase(from, to);
  const rows = r.tables.reduce((n, t) => n + t.rows, 0);
  const name = (l: typeof from) => (l.dialect === "sqlite" ? `sqlite:${l.path}` : l.redacted);
  process.stdout.write(
    `copied ${name(from)} to ${name(to)}: ${rows} rows (${r.tables.map((t) => `${t.name} ${t.rows}`).join(", ")}); ` +
      `row counts equal, and ${r.certificatesChecked} certificates' SHA-256 equal on both sides\n`,
  );
}
