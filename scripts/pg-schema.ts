/**
 * services/ca/store/pg/schema.ts, written from the SQLite schema: `node scripts/pg-schema.ts`
 * (npm run db:schema; npm run db:generate runs it before drizzle-kit makes the migrations).
 *
 * The SQLite tables (services/ca/store/schema.ts) are the one place the schema is kept: each
 * table, column, key and index becomes its PostgreSQL counterpart by the mapping below, and what
 * PostgreSQL does differently comes from services/ca/store/pg/schema-dialect.ts, written by hand.
 * Generated source rather than one builder over both dialects: drizzle's column builders are typed
 * per dialect, and a builder generic over both loses the row types every store module relies on.
 * Anything the mapping does not know (another column type, a foreign key, a default computed in
 * SQL) stops it with the table and column named, rather than being dropped.
 *
 * The output goes through Biome's formatter, so it is the file `npm run lint` wants, and
 * test/unit/services/ca/store/pg-schema.test.ts fails while the committed file is not what this
 * writes. The schema is read from source (esbuild compiles it, drizzle stays in node_modules),
 * not from dist/: the build can fail while the PostgreSQL schema lags the SQLite one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFunction } from "node:vm";

/** The generated file, relative to the repository. */
export const PG_SCHEMA = "services/ca/store/pg/schema.ts";

type SQLiteTable = import("drizzle-orm/sqlite-core").SQLiteTable;
type SQLiteColumn = import("drizzle-orm/sqlite-core").SQLiteColumn;
type SQLiteIndex = import("drizzle-orm/sqlite-core").Index;

// drizzle through require(), as the product loads it (services/ca/store/drizzle.cts says why)
const require = createRequire(import.meta.url);
const orm: typeof import("drizzle-orm") = require("drizzle-orm");
const sqliteCore: typeof import("drizzle-orm/sqlite-core") = require("drizzle-orm/sqlite-core");

/** The names the generated file imports, by module, as the tables use them. */
class Imports {
  readonly from = new Map<string, Set<string>>();

  use(module: string, name: string): void {
    const names = this.from.get(module) ?? new Set();
    names.add(name);
    this.from.set(module, names);
  }

  /** In Biome's order: parent modules before siblings, names sorted. */
  source(): string {
    const lines: string[] = [];
    for (const module of ["../drizzle.cjs", "../schema.js", "./drizzle.cjs", "./schema-dialect.js"]) {
      const names = [...(this.from.get(module) ?? [])].sort();
      if (names.length === 0) continue;
      if (module === "../schema.js") lines.push(`import type * as sqlite from "${module}";`);
      else lines.push(`import { ${names.join(", ")} } from "${module}";`);
    }
    return lines.join("\n");
  }
}

const HEADER = `/**
 * GENERATED from ../schema.ts (the SQLite schema) by scripts/pg-schema.ts: \`npm run db:schema\`,
 * or \`npm run db:generate\`, which then makes both dialects' migrations. Do not edit it by hand:
 * change ../schema.ts, or ./schema-dialect.ts for what PostgreSQL does differently, and regenerate
 * (test/unit/services/ca/store/pg-schema.test.ts fails while this file is not what it writes).
 *
 * The tables of ../schema.ts, with the same TypeScript and database names, so that one row type
 * serves both dialects: integers are bigint read as numbers, JSON columns jsonb typed as SQLite's
 * (text that holds JSON stays text: audit_events.details is hashed as those very characters), and
 * SQLite's AUTOINCREMENT key is an identity column (an id is never reused either way). Loaded only
 * by the PostgreSQL store, so a SQLite process does not pay for pg-core.
 */`;

/** A default drizzle writes as it is: a number, a string or a boolean. */
function literal(value: unknown, where: string): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  throw new Error(`${where}: a default that is not a literal (number, string, boolean)`);
}

/** The row type of a SQLite column, for the PostgreSQL column that stands for it. */
function rowType(key: string, prop: string, col: SQLiteColumn, imports: Imports): string {
  imports.use("../schema.js", "sqlite");
  const type = `typeof sqlite.${key}.$inferSelect.${prop}`;
  // the PostgreSQL column adds its own null, as the SQLite one does
  return col.notNull ? type : `NonNullable<${type}>`;
}

/** The column's type on PostgreSQL, with the row type SQLite gives it where that is narrower. */
function columnType(key: string, prop: string, col: SQLiteColumn, imports: Imports): string {
  const where = `${key}.${prop}`;
  const name = JSON.stringify(col.name);
  switch (col.columnType) {
    case "SQLiteInteger":
      imports.use("./schema-dialect.js", "ms");
      return `ms(${name})`;
    case "SQLiteTextJson":
      imports.use("./schema-dialect.js", "json");
      return `json<${rowType(key, prop, col, imports)}>(${name})`;
    case "SQLiteText": {
      if ("length" in col && col.length !== undefined) throw new Error(`${where}: a text length`);
      imports.use("./drizzle.cjs", "text");
      const enumerated = col.enumValues !== undefined && col.enumValues.length > 0;
      return `text(${name})${enumerated ? `.$type<${rowType(key, prop, col, imports)}>()` : ""}`;
    }
    default:
      throw new Error(`${where}: no PostgreSQL type for a ${col.columnType} column in scripts/pg-schema.ts`);
  }
}

function columnSource(key: string, table: string, prop: string, col: SQLiteColumn, imports: Imports): string {
  const where = `${key}.${prop}`;
  if (col.defaultFn || col.onUpdateFn || col.generated)
    throw new Error(`${where}: a default or value computed by drizzle or SQL`);
  let out = columnType(key, prop, col, imports);
  if (col.primary) out += ".primaryKey()";
  if ("autoIncrement" in col && col.autoIncrement === true) {
    // never reuses an id, as SQLite's AUTOINCREMENT; "by default" lets a copy write the ids it has
    out += ".generatedByDefaultAsIdentity()";
  }
  // a primary key is not null already
  if (col.notNull && !col.primary) out += ".notNull()";
  if (col.default !== undefined) out += `.default(${literal(col.default, where)})`;
  if (col.isUnique) {
    const named = col.uniqueName !== `${table}_${col.name}_unique`;
    out += named ? `.unique(${JSON.stringify(col.uniqueName)})` : ".unique()";
  }
  return out;
}

/**
 * A partial index's condition as a sql`` template on the table's columns: SQLite's SQL for it,
 * each quoted "table"."column" turned back into the column it names.
 */
function conditionSource(
  key: string,
  table: string,
  where: import("drizzle-orm").SQL,
  props: Map<string, string>,
  imports: Imports,
): string {
  const query = new sqliteCore.SQLiteSyncDialect().sqlToQuery(where);
  if (query.params.length > 0) throw new Error(`${key}: an index condition with parameters`);
  if (/[`\\]|\$\{/.test(query.sql)) throw new Error(`${key}: an index condition that needs escaping`);
  const text = query.sql.replace(/"([^"]+)"\."([^"]+)"/g, (_, of: string, column: string) => {
    const prop = props.get(column);
    if (of !== table || prop === undefined) throw new Error(`${key}: a condition on ${of}.${column}`);
    return `\${t.${prop}}`;
  });
  if (text.includes('"')) throw new Error(`${key}: a quoted name in an index condition: ${text}`);
  imports.use("../drizzle.cjs", "sql");
  return `sql\`${text}\``;
}

/**
 * An index as SQLite has it; `pgCondition`: the source of the condition PostgreSQL puts on it
 * instead (schema-dialect.ts pgConditions), for an index SQLite has whole.
 */
function indexSource(
  key: string,
  table: string,
  index: SQLiteIndex,
  props: Map<string, string>,
  imports: Imports,
  pgCondition?: string,
) {
  const { name, columns, unique, where } = index.config;
  if (where && pgCondition) throw new Error(`${key}.${name}: partial on SQLite already, and in pgConditions`);
  if (unique) throw new Error(`${key}.${name}: a unique index (add uniqueIndex to store/pg/drizzle.cts)`);
  const on = columns.map((col) => {
    const prop = "name" in col ? props.get(col.name) : undefined;
    if (prop === undefined) throw new Error(`${key}.${name}: an index on an expression`);
    return `t.${prop}`;
  });
  imports.use("./drizzle.cjs", "index");
  const condition = pgCondition
    ? `.where(${pgCondition})`
    : where
      ? `.where(${conditionSource(key, table, where, props, imports)})`
      : "";
  return `index(${JSON.stringify(name)}).on(${on.join(", ")})${condition}`;
}

/** What schema-dialect.ts says of one table: the names of its own indexes and its conditions. */
interface TableDialect {
  own: string[];
  conditions: string[];
}

/**
 * One table: its columns, then its composite primary keys and SQLite's indexes (partial where
 * pgConditions says), then PostgreSQL's own indexes.
 */
function tableSource(key: string, sqliteTable: SQLiteTable, dialect: TableDialect, imports: Imports): string {
  const config = sqliteCore.getTableConfig(sqliteTable);
  const table = config.name;
  if (config.foreignKeys.length + config.checks.length + config.uniqueConstraints.length > 0)
    throw new Error(`${key}: a foreign key, check or unique constraint, which scripts/pg-schema.ts lacks`);
  const columns: Record<string, SQLiteColumn> = orm.getTableColumns(sqliteTable);
  const props = new Map(Object.entries(columns).map(([prop, col]) => [col.name, prop]));
  const body = Object.entries(columns)
    .map(([prop, col]) => `    ${prop}: ${columnSource(key, table, prop, col, imports)},`)
    .join("\n");

  /** `pgIndexes.key.name(t)` (or pgConditions'), after checking that the name can stand there */
  const dialectCall = (of: "pgIndexes" | "pgConditions", name: string) => {
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`${of}.${key}.${name}: not an identifier`);
    imports.use("./schema-dialect.js", of);
    return `${of}.${key}.${name}(t)`;
  };
  const keys = config.primaryKeys.map((pk) => {
    imports.use("./drizzle.cjs", "primaryKey");
    // a key's columns are the table's own, so each has its property
    const on = pk.columns.map((col) => `t.${props.get(col.name)}`).join(", ");
    return `primaryKey({ ${pk.name ? `name: ${JSON.stringify(pk.name)}, ` : ""}columns: [${on}] })`;
  });
  const sqliteNames = new Set(config.indexes.map((i) => i.config.name));
  for (const name of dialect.own)
    if (sqliteNames.has(name)) throw new Error(`pgIndexes.${key}.${name}: SQLite has it (pgConditions?)`);
  for (const name of dialect.conditions)
    if (!sqliteNames.has(name)) throw new Error(`pgConditions.${key}.${name}: no such index on SQLite`);
  const indexes = [
    ...config.indexes.map((i) =>
      indexSource(
        key,
        table,
        i,
        props,
        imports,
        dialect.conditions.includes(i.config.name) ? dialectCall("pgConditions", i.config.name) : undefined,
      ),
    ),
    ...dialect.own.map((name) => dialectCall("pgIndexes", name)),
  ];
  const extra = [...keys, ...indexes];

  imports.use("./drizzle.cjs", "pgTable");
  const tail = extra.length > 0 ? `, (t) => [${extra.join(", ")}]` : "";
  return `export const ${key} = pgTable(${JSON.stringify(table)}, {\n${body}\n}${tail});`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null;

/** schema-dialect.ts's exports that the generated file calls: their table keys and names are read. */
export interface Dialect {
  pgIndexes: Record<string, unknown>;
  pgConditions: Record<string, unknown>;
}

/** The PostgreSQL schema's source, before formatting, from the SQLite schema module's exports. */
export function renderPgSchema(sqlite: Record<string, unknown>, dialect: Dialect): string {
  const tables = Object.entries(sqlite)
    .filter((e): e is [string, SQLiteTable] => orm.is(e[1], sqliteCore.SQLiteTable))
    .sort(([a], [b]) => a.localeCompare(b));
  for (const [of, byTable] of Object.entries(dialect))
    for (const key of Object.keys(byTable))
      if (!tables.some(([k]) => k === key)) throw new Error(`${of}.${key}: no such table in ../schema.ts`);
  const names = (byTable: Record<string, unknown>, key: string) => {
    const of = byTable[key];
    return isRecord(of) ? Object.keys(of) : [];
  };
  const imports = new Imports();
  const sources = tables.map(([key, table]) =>
    tableSource(
      key,
      table,
      { own: names(dialect.pgIndexes, key), conditions: names(dialect.pgConditions, key) },
      imports,
    ),
  );
  return `${HEADER}\n${imports.source()}\n\n${sources.join("\n\n")}\n`;
}

/** `text` as Biome formats it for the generated file's path (biome.json, as npm run lint). */
export function biomeFormat(root: string, text: string): string {
  return execFileSync(
    join(root, "node_modules", ".bin", "biome"),
    ["format", `--stdin-file-path=${PG_SCHEMA}`],
    {
      cwd: root,
      input: text,
      encoding: "utf8",
    },
  );
}

/** The generated file, as it should be committed, for the repository at `root`. */
export function pgSchemaSource(root: string, sqlite: Record<string, unknown>, dialect: Dialect) {
  return biomeFormat(root, renderPgSchema(sqlite, dialect));
}

/**
 * The SQLite schema and the dialect module, from source: esbuild compiles them into one CommonJS
 * module (it reads "./drizzle.cjs" as the drizzle.cts beside it), with every package left to
 * require() from node_modules, then node runs it as it would a file there.
 */
async function fromSource(root: string): Promise<{ sqlite: Record<string, unknown>; dialect: Dialect }> {
  const { build } = await import("esbuild");
  const store = join(root, "services", "ca", "store");
  const filename = join(store, "pg-schema-entry.cjs");
  const out = await build({
    stdin: {
      contents:
        'exports.sqlite = require("./schema.ts");\nexports.dialect = require("./pg/schema-dialect.ts");\n',
      resolveDir: store,
      sourcefile: filename,
      loader: "js",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    packages: "external",
    write: false,
    logLevel: "warning",
  });
  const code = out.outputFiles[0]?.text ?? "";
  const module: { exports: Record<string, unknown> } = { exports: {} };
  compileFunction(code, ["exports", "require", "module"], { filename })(
    module.exports,
    createRequire(filename),
    module,
  );
  const { sqlite, dialect } = module.exports;
  if (
    !isRecord(sqlite) ||
    !isRecord(dialect) ||
    !isRecord(dialect.pgIndexes) ||
    !isRecord(dialect.pgConditions)
  )
    throw new Error("the schema modules export no tables");
  return { sqlite, dialect: { pgIndexes: dialect.pgIndexes, pgConditions: dialect.pgConditions } };
}

async function main(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const { sqlite, dialect } = await fromSource(root);
  const text = pgSchemaSource(root, sqlite, dialect);
  const path = join(root, PG_SCHEMA);
  const unchanged = existsSync(path) && readFileSync(path, "utf8") === text;
  if (!unchanged) writeFileSync(path, text);
  process.stdout.write(`${PG_SCHEMA}: ${unchanged ? "unchanged" : "written"}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
