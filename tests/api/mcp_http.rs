//! `/mcp` over HTTP as clients meet it. Compression: clients ask for gzip by default (Python's
//! httpx, Node's fetch), `/mcp` compresses only results large enough to be worth it, and the
//! REST API keeps compressing as before. Body size: up to `http.max_body_bytes`, and past it a
//! JSON-RPC error that the audit log records.

use std::io::Read as _;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Engine, McpAgent, PASSWORD, SHOP_NOTE_CHARS, SHOP_NOTED_ORDERS, ShopTarget, TestApp, spawn_app,
    spawn_app_with,
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

/// A `tools/call` whose JSON text is at least `bytes` long (a long `in` list).
fn call_of_size(orders: &str, bytes: usize) -> Value {
    let values: Vec<u64> = (0..(bytes / 7) as u64).map(|i| 100_000 + i).collect();
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "execute_query_safe", "arguments": {"tableName": orders,
            "where": [{"field": "id", "op": "in", "value": values}]}}});
    assert!(body.to_string().len() >= bytes);
    body
}

/// The audit events of `action`, once there are at least `at_least`.
async fn audited(app: &TestApp, action: &str, at_least: usize) -> Vec<Value> {
    let signed_in: Value = app.sign_in("admin", PASSWORD).await.json().await.unwrap();
    let token = signed_in["accessToken"].as_str().unwrap();
    for _ in 0..100 {
        let page = app
            .json(
                Method::GET,
                &format!("/api/audit?action={action}&pageSize=200"),
                token,
                None,
            )
            .await;
        let items = page["items"].as_array().unwrap().clone();
        if items.len() >= at_least {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} {action} events");
}

#[tokio::test]
async fn request_bodies_up_to_the_configured_size_are_taken_and_larger_ones_get_a_json_rpc_error() {
    const LIMIT: usize = 600 * 1024;
    let app = spawn_app_with(|s| s.http.max_body_bytes = LIMIT).await;
    let (shop, key) = shop_agent(&app).await;
    let agent = McpAgent { app: &app, key };
    let orders = shop.qualified("orders");

    // Past actix's own default of 256 KiB, within the configured limit: read and answered
    // (the query bounds refuse so long a list, as a tool error the agent can act on).
    let res = agent.post(&call_of_size(&orders, 400 * 1024), &[]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["result"]["isError"], true, "{body}");

    // Past the limit, with its length declared: 413 with a JSON-RPC error saying the limit.
    let res = agent.post(&call_of_size(&orders, LIMIT + 1), &[]).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        header(&res, "content-type"),
        Some("application/json"),
        "{:?}",
        res.headers()
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&LIMIT.to_string()), "{message}");

    // Past the limit in chunks, its length unknown until read: the same.
    let text = call_of_size(&orders, LIMIT + 1).to_string();
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        agent.key
    )
    .into_bytes();
    for chunk in text.as_bytes().chunks(64 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_exchange(&app, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("-32600"), "{answer}");

    // A gzipped body (Content-Encoding) is taken, and the limit holds after decompression: a
    // small body that expands past it is refused the same way.
    let gzipped_request = |body: &Value| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut e, body.to_string().as_bytes()).unwrap();
        app.client
            .post(app.url("/mcp"))
            .header("X-MCP-Server-Key", &agent.key)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(e.finish().unwrap())
    };
    let ten = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "execute_query_safe",
        "arguments": {"tableName": orders, "selectColumns": [{"field": "id"}], "limit": 10}}});
    let res = gzipped_request(&ten).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["result"]["structuredContent"]["rowCount"], 10,
        "{body}"
    );
    let mut bomb = call_of_size(&orders, LIMIT);
    bomb["params"]["padding"] = json!(" ".repeat(LIMIT));
    let res = gzipped_request(&bomb).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");

    // A body cut short (the client stops sending): 400, and nothing runs.
    let text = ten.to_string();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\n\r\n{}",
        agent.key,
        text.len() + 100,
        text
    );
    let answer = raw_exchange(&app, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("-32700"), "{answer}");

    // Without a valid key, the size is not even looked at.
    let res = app
        .client
        .post(app.url("/mcp"))
        .header("X-MCP-Server-Key", "sluice_000000000000_nope")
        .header("Content-Type", "application/json")
        .body(call_of_size(&orders, LIMIT + 1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Every refusal is in the audit log, with the key that sent it.
    let events = audited(&app, "mcp.request.invalid", 4).await;
    let errors: Vec<&str> = events
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            "request body unreadable",
            "request body too large",
            "request body too large",
            "request body too large"
        ],
        "{events:?}"
    );
    for e in &events {
        assert_eq!(e["result"], "denied", "{e}");
        assert!(e["keyId"].is_string(), "{e}");
    }
}

/// A raw TCP connection to the app's server.
async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    let addr = app.url("").trim_start_matches("http://").to_owned();
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

/// Writes `request` on a new connection and reads until the server closes it (the request
/// asks it to), or until what came looks like a whole response.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = connect(app).await;
    // The server may answer and close before the whole body is sent: a failed write is fine.
    let _ = stream.write_all(request).await;
    // Nothing more comes from this client (a body shorter than declared ends here).
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads one response with a `Content-Length` from `stream`; `None` if the server closed it.
async fn read_response(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return Some(text);
            }
        }
    }
}

#[tokio::test]
async fn an_idle_connection_outlives_the_clients_own_keep_alive() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let (_shop, key) = shop_agent(&app).await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {key}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\n\r\n{ping}",
        ping.len()
    );
    let mut stream = connect(&app).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let first = read_response(&mut stream).await.expect("an answer");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // httpx reuses an idle connection for up to 5 s: the server must not close it sooner.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let second = read_response(&mut stream)
        .await
        .expect("the connection is still open after 5.5 s idle");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
}

#[tokio::test]
async fn a_refused_request_is_answered_without_waiting_for_its_body() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let (_shop, key) = shop_agent(&app).await;
    // The head announces a body that never comes: a wrong key is refused at once all the same
    // (the body is never read, so no client can make the server hold one without a key).
    for (what, key) in [("a wrong key", "sluice_000000000000_nope"), ("no key", "")] {
        let mut stream = connect(&app).await;
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            read_response(&mut stream),
        )
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer while the body is awaited"))
        .expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 401"), "{what}: {answer}");
    }
    // With a valid key the body is awaited, and a body sent late is answered.
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        ping.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stream.write_all(ping.as_bytes()).await.unwrap();
    let answer = read_response(&mut stream).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""result":{}"#), "{answer}");
}

#[tokio::test]
async fn a_request_whose_client_resets_mid_body_is_still_recorded() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let (_shop, key) = shop_agent(&app).await;
    let mut stream = connect(&app).await;
    // The key is good, so the server waits for the body; a little of it comes, then a reset.
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\":\"2.0\","
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stream.set_zero_linger().unwrap();
    drop(stream);

    let events = audited(&app, "mcp.request", 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["result"], "failed", "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("client went away"),
        "{e}"
    );
    assert!(e["keyId"].is_string(), "the key was checked: {e}");
}

/// Whether the server ends the connection within `within` (EOF or a reset).
async fn closes_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut rest = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut rest)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slow_or_refused_bodies_do_not_hold_a_connection() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app_with(|s| s.http.body_timeout_secs = 1).await;
    let (_shop, key) = shop_agent(&app).await;

    // Without a key, a chunked body that keeps coming: 401, then the connection ends (it is
    // not drained for as long as the client sends).
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: sluice_000000000000_nope\r\n\
              Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
        )
        .await
        .unwrap();
    let answer = read_response(&mut stream).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let _ = stream.write_all(b"1\r\n \r\n").await;
    assert!(
        closes_within(&mut stream, std::time::Duration::from_secs(3)).await,
        "the connection stays open after a refusal: {answer}"
    );

    // With a key, a body that stops coming: 408 once the body timeout passes, then closed.
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        read_response(&mut stream),
    )
    .await
    .expect("an answer once the body timeout passes")
    .expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("-32600"), "{answer}");
    assert!(
        closes_within(&mut stream, std::time::Duration::from_secs(3)).await,
        "the connection stays open after a body timeout"
    );
    let events = audited(&app, "mcp.request.invalid", 1).await;
    assert_eq!(events[0]["error"], "request body too slow", "{events:?}");
    assert!(events[0]["keyId"].is_string(), "{events:?}");
}

#[tokio::test]
async fn a_slow_upload_counts_in_the_audit_duration_but_not_in_the_tool_latency() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let (_shop, key) = shop_agent(&app).await;
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_schemas","arguments":{}}}"#;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MCP-Server-Key: {key}\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        call.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    stream.write_all(call.as_bytes()).await.unwrap();
    let answer = read_response(&mut stream).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The audit event covers the request from its head: the upload included.
    let events = audited(&app, "mcp.get_schemas", 1).await;
    let ms = events[0]["durationMs"].as_u64().unwrap();
    assert!(ms >= 1_200, "{ms} ms in {:?}", events[0]);
    // The tool's latency starts once the body is there: well under the upload's 1.2 s.
    let metrics = crate::metrics::scrape(&app).await;
    let line = "sluice_mcp_tool_call_duration_seconds_bucket{tool=\"get_schemas\",le=\"1\"} 1";
    assert!(metrics.contains(line), "{line} in {metrics}");
}
