//! Connection strings of `/api/db-management`: the key=value form
//! (`Host=...;Port=...;Database=...;Username=...;Password=...;SSL Mode=...`) and URLs
//! (`postgres://`, `mysql://`, `mariadb://`, `sqlite://`).

use crate::{DbConfigError, Location, PASSWORD_MASK, Provider, Secret, ServerEndpoint, SslMode};

const FIELD: &str = "connectionString";

/// Keys that drivers accept but Sluice has no use for; they are ignored rather than refused.
const IGNORED_KEYS: &[&str] = &[
    "pooling",
    "minpoolsize",
    "maxpoolsize",
    "minimumpoolsize",
    "maximumpoolsize",
    "timeout",
    "commandtimeout",
    "connectiontimeout",
    "connecttimeout",
    "applicationname",
    "includeerrordetail",
    "trustservercertificate",
    "charset",
    "characterset",
    "mode",
    "cache",
    "version",
    "keepalive",
    "allowuservariables",
    "convertzerodatetime",
];

fn invalid(message: impl Into<String>) -> DbConfigError {
    DbConfigError::invalid(FIELD, message)
}

/// Parses a connection string for `provider` into a location and a password.
///
/// # Errors
/// [`DbConfigError::Invalid`] on `connectionString`, saying what is wrong (never echoing the
/// password).
pub fn parse_connection_string(
    provider: Provider,
    text: &str,
) -> Result<(Location, Option<Secret>), DbConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid("the connection string is empty"));
    }
    if text.len() > 4096 {
        return Err(invalid(
            "the connection string is longer than 4096 characters",
        ));
    }
    if let Some((scheme, _)) = text.split_once("://") {
        return parse_url(provider, scheme, text);
    }
    parse_pairs(provider, text)
}

fn parse_pairs(
    provider: Provider,
    text: &str,
) -> Result<(Location, Option<Secret>), DbConfigError> {
    let mut host = None;
    let mut port = None;
    let mut database = None;
    let mut username = None;
    let mut password = None;
    let mut ssl = SslMode::Disable;
    let mut path = None;
    for (i, part) in split_pairs(text).iter().enumerate() {
        if part.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(invalid(format!("part {} is not key=value", i + 1)));
        };
        let key_norm: String = key
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        let value = unquote(value.trim());
        match key_norm.as_str() {
            "host" | "server" | "address" | "addr" | "hostname" => {
                if provider.is_file() {
                    path = Some(value.to_owned());
                } else {
                    host = Some(value.to_owned());
                }
            }
            "datasource" | "filename" | "path" => {
                if provider.is_file() {
                    path = Some(value.to_owned());
                } else {
                    host = Some(value.to_owned());
                }
            }
            "port" => {
                port = Some(parse_port(value)?);
            }
            "database" | "initialcatalog" | "db" | "dbname" => database = Some(value.to_owned()),
            "username" | "userid" | "user" | "uid" => username = Some(value.to_owned()),
            "password" | "pwd" => password = Some(value.to_owned()),
            "sslmode" | "ssl" | "usessl" => ssl = SslMode::parse(value, FIELD)?,
            k if IGNORED_KEYS.contains(&k) => {}
            // After a password, an "unknown key" may be the password's tail (an unquoted ';'):
            // never quote it then.
            _ if password.is_some() => {
                return Err(invalid(format!(
                    "part {} is not a known key (quote values that contain ';')",
                    i + 1
                )));
            }
            _ => return Err(invalid(format!("unknown key {:?}", key.trim()))),
        }
    }
    let password = password.filter(|p| !p.is_empty()).map(Secret::new);
    if provider.is_file() {
        let path = path.ok_or_else(|| invalid("missing Data Source (the SQLite file path)"))?;
        return Ok((Location::File { path }, None));
    }
    let endpoint = ServerEndpoint {
        host: host.ok_or_else(|| invalid("missing Host"))?,
        port: port.or(provider.default_port()).unwrap_or(0),
        database: database.ok_or_else(|| invalid("missing Database"))?,
        username: username.ok_or_else(|| invalid("missing Username"))?,
        ssl,
    };
    Ok((Location::Server(endpoint), password))
}

/// Splits on `;` outside of single or double quotes.
fn split_pairs(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, ';') => parts.push(std::mem::take(&mut current)),
            (None, '"' | '\'') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
}

fn parse_port(value: &str) -> Result<u16, DbConfigError> {
    match value.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(invalid(format!(
            "Port must be a number from 1 to 65535, not {value:?}"
        ))),
    }
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

fn parse_url(
    provider: Provider,
    scheme: &str,
    text: &str,
) -> Result<(Location, Option<Secret>), DbConfigError> {
    let scheme_provider = match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => Provider::Postgresql,
        "mysql" => Provider::Mysql,
        "mariadb" => Provider::Mariadb,
        "sqlite" | "sqlite3" | "file" => Provider::Sqlite,
        other => return Err(invalid(format!("unknown URL scheme {other:?}"))),
    };
    let compatible = scheme_provider == provider
        || matches!(
            (scheme_provider, provider),
            (Provider::Mysql, Provider::Mariadb) | (Provider::Mariadb, Provider::Mysql)
        );
    if !compatible {
        return Err(invalid(format!(
            "a {scheme}:// URL does not fit the provider {}",
            provider.display_name()
        )));
    }
    if provider.is_file() {
        let rest = &text[scheme.len() + 3..];
        let path = rest.split('?').next().unwrap_or("");
        if path.is_empty() {
            return Err(invalid(
                "missing the SQLite file path: use sqlite:///absolute/path.db",
            ));
        }
        return Ok((
            Location::File {
                path: path.to_owned(),
            },
            None,
        ));
    }
    // The url crate's own messages can quote the input (with its password): never pass them on.
    let url = url::Url::parse(text).map_err(|_| invalid("the URL is malformed"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("the URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let username = decode(url.username());
    if username.is_empty() {
        return Err(invalid("the URL has no user name"));
    }
    let password = url
        .password()
        .map(|p| decode(&p.replace('+', "%2B")))
        .filter(|p| !p.is_empty());
    let database = url.path().trim_start_matches('/').to_owned();
    if database.is_empty() {
        return Err(invalid("the URL has no database name"));
    }
    let mut ssl = SslMode::Disable;
    for (k, v) in url.query_pairs() {
        match k.to_ascii_lowercase().as_str() {
            "sslmode" | "ssl-mode" | "ssl" => ssl = SslMode::parse(&v, FIELD)?,
            k if IGNORED_KEYS.contains(&k.replace(['_', '-'], "").as_str()) => {}
            other => return Err(invalid(format!("unknown URL parameter {other:?}"))),
        }
    }
    let endpoint = ServerEndpoint {
        host,
        port: url.port().or(provider.default_port()).unwrap_or(0),
        database: decode(&database),
        username,
        ssl,
    };
    Ok((Location::Server(endpoint), password.map(Secret::new)))
}

/// Renders a location as a key=value connection string, the password masked.
pub fn render_connection_string(location: &Location, has_password: bool) -> String {
    match location {
        Location::File { path } => format!("Data Source={path}"),
        Location::Server(e) => {
            let mut s = format!(
                "Host={};Port={};Database={};Username={}",
                e.host, e.port, e.database, e.username
            );
            if has_password {
                s.push_str(&format!(";Password={PASSWORD_MASK}"));
            }
            if e.ssl.enabled() {
                s.push_str(&format!(";SSL Mode={}", e.ssl.as_str()));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(loc: &Location) -> &ServerEndpoint {
        match loc {
            Location::Server(e) => e,
            Location::File { .. } => panic!("a server location"),
        }
    }

    #[test]
    fn the_seed_key_value_form_parses() {
        let (loc, pw) = parse_connection_string(
            Provider::Postgresql,
            "Host=db.internal;Port=6543;Database=shop;Username=reader;Password=\"p@ss;w=rd\";SSL Mode=Require",
        )
        .unwrap();
        let e = server(&loc);
        assert_eq!(
            (
                e.host.as_str(),
                e.port,
                e.database.as_str(),
                e.username.as_str()
            ),
            ("db.internal", 6543, "shop", "reader")
        );
        assert_eq!(e.ssl, SslMode::Require);
        assert_eq!(
            pw.unwrap().expose(),
            "p@ss;w=rd",
            "a quoted value may hold ';'"
        );
    }

    #[test]
    fn key_value_strings_with_quotes_aliases_and_defaults() {
        let (loc, pw) = parse_connection_string(
            Provider::Postgresql,
            "Server=db.internal; Database=shop; User Id=reader; Password=\"s3cret\"; SslMode=verify-full; Pooling=true",
        )
        .unwrap();
        let e = server(&loc);
        assert_eq!(
            (
                e.host.as_str(),
                e.port,
                e.database.as_str(),
                e.username.as_str()
            ),
            ("db.internal", 5432, "shop", "reader")
        );
        assert_eq!(e.ssl, SslMode::VerifyFull);
        assert_eq!(pw.unwrap().expose(), "s3cret");
        let (loc, _) = parse_connection_string(Provider::Mysql, "host=h;database=d;uid=u").unwrap();
        assert_eq!(server(&loc).port, 3306);
    }

    #[test]
    fn urls_parse_with_encoded_credentials() {
        let (loc, pw) = parse_connection_string(
            Provider::Postgresql,
            "postgres://reader:p%40ss%2Fw%3Ard@db.internal:6543/shop?sslmode=require",
        )
        .unwrap();
        let e = server(&loc);
        assert_eq!(
            (e.host.as_str(), e.port, e.database.as_str()),
            ("db.internal", 6543, "shop")
        );
        assert_eq!(e.ssl, SslMode::Require);
        assert_eq!(pw.unwrap().expose(), "p@ss/w:rd");
        let (loc, _) = parse_connection_string(Provider::Mariadb, "mysql://u@[::1]/d").unwrap();
        assert_eq!(server(&loc).host, "::1");
        let (loc, _) =
            parse_connection_string(Provider::Sqlite, "sqlite:///var/data/app.db").unwrap();
        assert_eq!(
            loc,
            Location::File {
                path: "/var/data/app.db".into()
            }
        );
        let (loc, _) = parse_connection_string(Provider::Sqlite, "Data Source=/tmp/x.db").unwrap();
        assert_eq!(
            loc,
            Location::File {
                path: "/tmp/x.db".into()
            }
        );
    }

    #[test]
    fn malformed_strings_say_what_is_wrong_without_the_password() {
        for (provider, text, expect) in [
            (
                Provider::Postgresql,
                "Database=d;Username=u;Password=hunter22",
                "missing Host",
            ),
            (
                Provider::Postgresql,
                "Host=h;Port=99999;Database=d;Username=u",
                "Port",
            ),
            (
                Provider::Postgresql,
                "Host=h;Database=d;Username=u;Colour=blue",
                "Colour",
            ),
            (Provider::Postgresql, "just some text", "key=value"),
            (Provider::Mysql, "postgres://u:hunter22@h/d", "does not fit"),
            (Provider::Postgresql, "postgres://u:hunter22@/d", "URL"),
            (Provider::Postgresql, "ftp://u:hunter22@h/d", "scheme"),
            (Provider::Sqlite, "Host=;", ""),
            (
                Provider::Postgresql,
                "Host=h;Database=d;Username=u;Password=hunter;22=x",
                "quote values",
            ),
        ] {
            let err = parse_connection_string(provider, text).err();
            if let Some(DbConfigError::Invalid { field, message }) = &err {
                assert_eq!(field, FIELD);
                assert!(message.contains(expect), "{text}: {message}");
                assert!(!message.contains("hunter22"), "{message}");
            } else if !expect.is_empty() {
                panic!("{text} must be refused, got {err:?}");
            }
        }
    }

    #[test]
    fn rendering_masks_the_password() {
        let (loc, _) = parse_connection_string(
            Provider::Postgresql,
            "Host=h;Database=d;Username=u;Password=hunter22",
        )
        .unwrap();
        let s = render_connection_string(&loc, true);
        assert_eq!(
            s,
            "Host=h;Port=5432;Database=d;Username=u;Password=********"
        );
        assert!(!s.contains("hunter22"));
    }
}
