//! What the benchmarks share.

/// The URL of database `db` on the server of `admin` (its maintenance-database URL).
pub fn url_for(admin: &str, db: &str) -> String {
    let authority = admin.find("://").map_or(0, |i| i + 3);
    let base = admin.split('?').next().unwrap_or(admin);
    match base[authority..].find('/') {
        Some(i) => format!("{}/{db}", &base[..authority + i]),
        None => format!("{base}/{db}"),
    }
}
