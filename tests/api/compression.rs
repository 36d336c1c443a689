//! Response compression as MCP clients meet it: they ask for gzip by default (Python's httpx,
//! Node's fetch), `/mcp` compresses only results large enough to be worth it, and the REST API
//! keeps compressing as before.

use std::io::Read as _;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Engine, McpAgent, SHOP_NOTE_CHARS, SHOP_NOTED_ORDERS, ShopTarget, TestApp, spawn_app,
};

/// What httpx sends unless told otherwise.
const HTTPX_ACCEPT_ENCODING: &str = "gzip, deflate";

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A `tools/call` of `execute_query_safe` with `arguments`, sent with `accept_encoding`.
async fn call(
    agent: &McpAgent<'_>,
    arguments: &Value,
    accept_encoding: Option<&str>,
) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "execute_query_safe", "arguments": arguments}});
    let headers: Vec<(&str, &str)> = accept_encoding
        .map(|a| ("Accept-Encoding", a))
        .into_iter()
        .collect();
    let res = agent.post(&body, &headers).await;
    assert_eq!(res.status(), 200);
    res
}

/// The JSON-RPC body of `res`, decompressed when it says it is gzip.
async fn body_of(res: reqwest::Response) -> Value {
    let gzipped = header(&res, "content-encoding") == Some("gzip");
    let bytes = res.bytes().await.unwrap();
    let text = if gzipped {
        gunzip(&bytes)
    } else {
        bytes.to_vec()
    };
    serde_json::from_slice(&text).expect("a JSON-RPC body")
}

async fn shop_agent(app: &TestApp) -> (ShopTarget, String) {
    let shop = ShopTarget::new(Engine::Sqlite).await;
    let token = app.admin_token().await;
    let key = app
        .shop_key(
            &token,
            &shop,
            json!({"tableWhitelist": [shop.qualified("orders")], "rateLimitPerMinute": 100000}),
        )
        .await;
    (shop, key)
}

#[tokio::test]
async fn mcp_compresses_only_results_worth_compressing() {
    let app = spawn_app().await;
    let (shop, key) = shop_agent(&app).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");

    // A small result, as most agents' calls are: sent as it is, in one piece with its length,
    // although the client would take gzip.
    let small = json!({"tableName": orders, "selectColumns": [{"field": "id"}], "limit": 10});
    let res = call(&agent, &small, Some(HTTPX_ACCEPT_ENCODING)).await;
    assert_eq!(header(&res, "content-encoding"), None);
    assert!(header(&res, "content-length").is_some(), "not chunked");
    let plain = body_of(res).await;
    assert_eq!(plain["result"]["structuredContent"]["rowCount"], 10);

    // Large results are gzipped for a client that takes gzip, inline (tens of kilobytes) and
    // on a blocking thread (megabytes: 1,000 rows of 1,000-character notes), and decode to
    // exactly what a client without gzip receives.
    let noted = json!({"tableName": orders, "selectColumns": [{"field": "id"}, {"field": "note"}],
        "where": [{"field": "id", "op": "<=", "value": SHOP_NOTED_ORDERS}], "orderBy": [{"field": "id"}]});
    let many = json!({"tableName": orders, "alias": "a",
        "joins": [{"type": "cross", "table": orders, "alias": "b"}],
        "selectColumns": [{"field": "a.id", "alias": "id"}, {"field": "b.id", "alias": "other"},
            {"field": "a.note", "alias": "note"}],
        "where": [{"field": "a.id", "op": "<=", "value": SHOP_NOTED_ORDERS}],
        "orderBy": [{"field": "a.id"}, {"field": "b.id"}], "limit": 1000});
    for (what, args, rows, min_bytes) in [
        ("inline", &noted, SHOP_NOTED_ORDERS as usize, 16 * 1024),
        ("blocking", &many, 1000, 1_000_000),
    ] {
        let res = call(&agent, args, Some(HTTPX_ACCEPT_ENCODING)).await;
        assert_eq!(header(&res, "content-encoding"), Some("gzip"), "{what}");
        assert!(
            header(&res, "vary")
                .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
            "{what}: {:?}",
            res.headers()
        );
        let compressed_len = res.content_length();
        let gzipped = body_of(res).await;

        let res = call(&agent, args, None).await;
        assert_eq!(header(&res, "content-encoding"), None, "{what}");
        let raw_len = res.content_length().unwrap() as usize;
        assert!(raw_len >= min_bytes, "{what}: {raw_len} bytes");
        if let Some(n) = compressed_len {
            assert!((n as usize) < raw_len / 5, "{what}: {n} of {raw_len} bytes");
        }
        let plain = body_of(res).await;
        assert_eq!(gzipped, plain, "{what}");
        let result = &plain["result"]["structuredContent"];
        assert_eq!(
            result["rowCount"], rows,
            "{what}: {}",
            plain["result"]["content"]
        );
        let first_note = result["rows"][0].as_array().unwrap().last().unwrap();
        assert_eq!(
            first_note.as_str().unwrap().len(),
            SHOP_NOTE_CHARS,
            "{what}"
        );
    }

    // A client that names only encodings Sluice does not write, or refuses gzip, still gets
    // its answer (never 406), as it is.
    for accept in ["br", "zstd, br;q=0.5", "gzip;q=0, identity", "*"] {
        let res = call(&agent, &noted, Some(accept)).await;
        assert_eq!(header(&res, "content-encoding"), None, "{accept}");
        let body = body_of(res).await;
        assert_eq!(
            body["result"]["structuredContent"]["rowCount"], SHOP_NOTED_ORDERS,
            "{accept}"
        );
    }
}

#[tokio::test]
async fn the_rest_api_still_compresses_for_clients_that_ask() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(Method::GET, app.url("/api/openapi.json"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), Some("gzip"));
    let spec: Value = serde_json::from_slice(&gunzip(&res.bytes().await.unwrap())).unwrap();
    assert!(spec["paths"]["/api/mcp-keys"].is_object());

    // Problems from unknown paths are still problem+json through the same middleware.
    let res = app
        .client
        .get(app.url("/no/such/path"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let gzipped = header(&res, "content-encoding") == Some("gzip");
    let bytes = res.bytes().await.unwrap();
    let problem: Value = serde_json::from_slice(&if gzipped {
        gunzip(&bytes)
    } else {
        bytes.to_vec()
    })
    .unwrap();
    assert_eq!(problem["status"], 404, "{problem}");
}
