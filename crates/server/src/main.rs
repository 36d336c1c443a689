//! `sluice`: the MCP gateway for SQL databases.
//!
//! `sluice serve` (the default), `sluice migrate`, `sluice openapi`, `sluice create-admin`.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use rand::RngCore as _;
use server::config::Settings;
use server::{cpu, master_key, startup, telemetry};

/// jemalloc: under load glibc's allocator took about a quarter of the server's CPU, and
/// jemalloc cut the CPU per MCP call by a fifth at the same memory (see `make bench`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    about = "A secure MCP gateway for SQL databases"
)]
struct Cli {
    /// A TOML configuration file (environment variables override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the metadata database and serve the API and the MCP endpoint (the default).
    Serve,
    /// Apply pending migrations to the metadata database, then exit.
    Migrate,
    /// Print the OpenAPI description of the REST API.
    Openapi,
    /// Create an administrator.
    CreateAdmin {
        /// The new administrator's name.
        #[arg(long)]
        username: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// Only create the administrator if none exists yet (for set-up scripts).
        #[arg(long)]
        if_first: bool,
    },
    /// Set up a demo: a small shop database (SQLite, in the data directory), the connection
    /// "Demo shop" with a semantic layer, and an MCP key printed once. Changes nothing when
    /// it is already there.
    Demo,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", http_api::openapi_json());
        return std::process::ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sluice: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&settings, std::io::stderr);
    if matches!(cli.command, None | Some(Command::Serve)) {
        // Before the runtimes start their threads, which inherit the policy.
        match cpu::apply(settings.cpu_policy) {
            cpu::Applied::Batch => {
                tracing::info!("the server's threads run under SCHED_BATCH (cpu_policy)");
            }
            cpu::Applied::Unchanged => {}
            cpu::Applied::Refused(why) => tracing::warn!(
                reason = %why,
                "cpu_policy is batch, but the threads keep the scheduling policy they were started with"
            ),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sluice: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sluice stopped");
            eprintln!("sluice: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Openapi => Ok(()),
        Command::Migrate => {
            let store = startup::open_store(&settings)?;
            let report = store
                .migrate()
                .await
                .context("cannot migrate the metadata database")?;
            println!(
                "migrations: {} applied now, {} already applied",
                report.applied.len(),
                report.already_applied
            );
            Ok(())
        }
        Command::Serve => {
            let master = master_key::resolve(&settings)?;
            let app = startup::Application::build(&settings, &master, true).await?;
            tracing::info!(
                address = %settings.listen.ip(),
                port = app.port(),
                mode = ?settings.env,
                "sluice is listening"
            );
            app.run_until_stopped().await?;
            tracing::info!("sluice stopped gracefully");
            Ok(())
        }
        Command::Demo => {
            let master = master_key::resolve(&settings)?;
            let store = startup::open_store(&settings)?;
            store
                .migrate()
                .await
                .context("cannot migrate the metadata database")?;
            let db_configs = startup::db_config_service(&settings, &store, &master)?;
            let semantic = startup::semantic_service(&store, db_configs.clone());
            let keys = startup::key_service(&settings, &store, &master);
            let audit = startup::command_audit(&settings, &store);
            let demo = server::demo::set_up(
                &settings.data_dir,
                &db_configs,
                &semantic,
                &keys,
                audit.as_ref().map(|a| a as &dyn audit::AuditStore),
            )
            .await?;
            println!(
                "demo database: {} ({})",
                server::demo::CONNECTION,
                demo.file.display()
            );
            match demo.key {
                Some(key) => {
                    println!("key: {key}");
                    println!(
                        "(shown once: an MCP key for the demo database, every table, the read tools)"
                    );
                }
                None => println!(
                    "a demo key exists (its value was shown when it was made); issue another with POST /api/mcp-keys"
                ),
            }
            Ok(())
        }
        Command::CreateAdmin {
            username,
            password_stdin,
            if_first,
        } => {
            let master = master_key::resolve(&settings)?;
            let store = startup::open_store(&settings)?;
            store
                .migrate()
                .await
                .context("cannot migrate the metadata database")?;
            let auth = startup::auth_service(&settings, &store, &master);
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                if std::io::stdin().is_terminal() {
                    eprint!("password for {username}: ");
                }
                std::io::stdin().lock().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (generate_password(), true)
            };
            match auth
                .create_admin(&username, password.clone(), if_first)
                .await
            {
                Ok(user) => {
                    println!("created administrator {} ({})", user.username, user.id);
                    if generated {
                        println!("password: {password}");
                        println!(
                            "(shown once: keep it somewhere safe, or change it with POST /api/auth/change-password)"
                        );
                    }
                    // After the password is shown: a failure to record it only warns, and a
                    // set-up script still gets the password.
                    let audit = startup::command_audit(&settings, &store);
                    startup::record_command_change(
                        audit.as_ref().map(|a| a as &dyn audit::AuditStore),
                        "sluice create-admin",
                        "auth.admin.created",
                        |e| {
                            e.arguments = Some(
                                serde_json::json!({"username": user.username.to_string()})
                                    .to_string(),
                            );
                        },
                    )
                    .await;
                    Ok(())
                }
                Err(accounts::AccountsError::SignUpClosed) if if_first => {
                    println!("an administrator already exists; none was created");
                    Ok(())
                }
                Err(e) => Err(anyhow::anyhow!("cannot create the administrator: {e}")),
            }
        }
    }
}

/// 24 characters of URL-safe base64 from 18 random bytes (144 bits).
fn generate_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
