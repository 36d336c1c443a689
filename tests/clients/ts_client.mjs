// The official TypeScript MCP SDK (@modelcontextprotocol/sdk 1.32.2, legacy era only) against
// Sluice's POST /mcp: Client + StreamableHTTPClientTransport with the key in requestInit headers.
//
// Environment: CLIENTS_MCP_URL, CLIENTS_KEY, CLIENTS_LIMITED_KEY.
// Prints one `PASS name` / `FAIL name: why` line per check; exits 1 if any failed.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import assert from "node:assert/strict";

const URL_ = process.env.CLIENTS_MCP_URL;
const KEY = process.env.CLIENTS_KEY;
const LIMITED_KEY = process.env.CLIENTS_LIMITED_KEY;
const WRONG_KEY = "sluice_000000000000_" + "0".repeat(64);
const CHECK_TIMEOUT_MS = Number(process.env.CLIENTS_CHECK_TIMEOUT ?? "30") * 1000;

const EXPECTED_TOOLS = ["get_schemas", "get_tables", "get_columns", "execute_query_safe", "explain_query"];
const QUERY = {
  tableName: "orders",
  selectColumns: [{ field: "id" }, { field: "customer_id" }, { field: "amount" }, { field: "status" }],
  where: [
    { field: "status", op: "=", value: "paid" },
    { field: "amount", op: ">", value: 20 },
  ],
  orderBy: [{ field: "amount", direction: "desc" }],
  limit: 2,
};
const EXPECTED_ROWS = [
  [102, 1, 120, "paid"],
  [106, 2, 42, "paid"],
];

let passed = 0;
let failed = 0;

async function check(name, fn) {
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    passed++;
    console.log(`PASS ${name}`);
    return true;
  } catch (e) {
    failed++;
    const why = String(e?.message ?? e).replace(/\s+/g, " ").slice(0, 600);
    console.log(`FAIL ${name}: ${why}`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function connectWith(key, { bearer = false } = {}) {
  const client = new Client({ name: "sluice-ts-client-test", version: "1.0.0" });
  const headers = bearer ? { Authorization: `Bearer ${key}` } : { "X-MCP-Server-Key": key };
  const transport = new StreamableHTTPClientTransport(new URL(URL_), { requestInit: { headers } });
  return { client, transport };
}

async function expectError(promise, what) {
  try {
    const res = await promise;
    assert.equal(res?.isError, true, `${what}: expected an error, got ${JSON.stringify(res)}`);
    return `isError: ${(res.content ?? []).map((c) => c.text).join(" ").slice(0, 120)}`;
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return `${e.constructor.name} ${e.code ?? ""}: ${e.message}`;
  }
}

const tag = "ts-sdk[1.32.2]";
const { client, transport } = connectWith(KEY);

if (
  await check(`${tag} connect (initialize)`, async () => {
    await client.connect(transport);
    const info = client.getServerVersion();
    assert.equal(info?.name, "sluice", `serverInfo ${JSON.stringify(info)}`);
    assert.ok(client.getServerCapabilities()?.tools, "no tools capability");
  })
) {
  await check(`${tag} listTools`, async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      EXPECTED_TOOLS,
    );
    for (const t of tools) {
      assert.ok(t.description, `${t.name} has no description`);
      assert.equal(t.inputSchema.type, "object");
    }
  });

  await check(`${tag} callTool get_tables`, async () => {
    const res = await client.callTool({ name: "get_tables", arguments: {} });
    assert.notEqual(res.isError, true, JSON.stringify(res.content));
    const names = res.structuredContent.tables.map((t) => t.qualifiedName).sort();
    assert.deepEqual(names, ["main.customers", "main.orders"]);
  });

  await check(`${tag} callTool get_schemas, get_columns`, async () => {
    // the SDK validates structuredContent against each tool's outputSchema (listTools ran)
    const schemas = await client.callTool({ name: "get_schemas", arguments: {} });
    assert.deepEqual(schemas.structuredContent, { schemas: [{ name: "main", tableCount: 2 }] });
    const cols = await client.callTool({ name: "get_columns", arguments: { tableName: "orders" } });
    assert.notEqual(cols.isError, true, JSON.stringify(cols.content));
    assert.deepEqual(
      cols.structuredContent.columns.map((c) => c.name),
      ["id", "customer_id", "amount", "status"],
    );
  });

  await check(`${tag} callTool explain_query`, async () => {
    const res = await client.callTool({ name: "explain_query", arguments: QUERY });
    assert.notEqual(res.isError, true, JSON.stringify(res.content));
    assert.equal(res.structuredContent.format, "text");
    assert.ok(res.structuredContent.plan.includes("orders"), res.structuredContent.plan);
  });

  await check(`${tag} callTool execute_query_safe`, async () => {
    const res = await client.callTool({ name: "execute_query_safe", arguments: QUERY });
    assert.notEqual(res.isError, true, JSON.stringify(res.content));
    const sc = res.structuredContent;
    assert.deepEqual(
      sc.columns.map((c) => c.name),
      ["id", "customer_id", "amount", "status"],
    );
    assert.deepEqual(sc.rows, EXPECTED_ROWS);
    assert.equal(sc.rowCount, 2);
    assert.deepEqual(JSON.parse(res.content[0].text), sc, "text block differs from structuredContent");
  });

  await check(`${tag} query with an unknown column -> isError naming it`, async () => {
    const res = await client.callTool({
      name: "execute_query_safe",
      arguments: { tableName: "orders", selectColumns: [{ field: "nope" }] },
    });
    assert.equal(res.isError, true, JSON.stringify(res));
    assert.match(res.content.map((c) => c.text).join(" "), /nope/);
  });

  await check(`${tag} ping`, async () => {
    const res = await client.ping();
    assert.deepEqual(res, {});
  });

  await check(`${tag} unknown tool fails`, async () => {
    const how = await expectError(client.callTool({ name: "drop_all_tables", arguments: {} }), "unknown tool");
    console.log(`  info: unknown tool -> ${how}`);
  });

  await client.close();
}

await check(`${tag} non-granted tool (limited key)`, async () => {
  const { client: lc, transport: lt } = connectWith(LIMITED_KEY);
  await lc.connect(lt);
  try {
    const { tools } = await lc.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ["get_tables"],
    );
    const how = await expectError(lc.callTool({ name: "execute_query_safe", arguments: QUERY }), "non-granted tool");
    console.log(`  info: non-granted tool -> ${how}`);
  } finally {
    await lc.close();
  }
});

await check(`${tag} key in Authorization: Bearer`, async () => {
  const { client: bc, transport: bt } = connectWith(KEY, { bearer: true });
  await bc.connect(bt);
  try {
    const res = await bc.callTool({ name: "execute_query_safe", arguments: QUERY });
    assert.deepEqual(res.structuredContent?.rows, EXPECTED_ROWS, JSON.stringify(res));
  } finally {
    await bc.close();
  }
});

await check(`${tag} wrong key is refused`, async () => {
  const { client: bc, transport: bt } = connectWith(WRONG_KEY);
  try {
    await bc.connect(bt);
  } catch (e) {
    assert.ok([401, 403].includes(e.code), `expected HTTP 401/403, got ${e.code}: ${e.message}`);
    console.log(`  info: wrong key -> ${e.constructor.name} ${e.code}: ${e.message.slice(0, 160)}`);
    return;
  } finally {
    await bc.close().catch(() => {});
  }
  throw new Error("a wrong key was accepted");
});

console.log(`ts: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
