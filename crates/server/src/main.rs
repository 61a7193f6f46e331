//! `dms`: serve the system, migrate, load demo data, create users, back up and restore.

use clap::{Parser, Subcommand};
use dms_server::config::Config;
use dms_server::{app, seed, AppState};
use std::path::PathBuf;
use std::process::ExitCode;

// Each request allocates many small strings and JSON values, on many threads: mimalloc's
// thread-local free lists cost less than the system allocator's arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dms", version, about = "4S dealership management system")]
struct Cli {
    /// Configuration file (default: $DMS_CONFIG, else ./dms.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web app.
    Serve {
        /// Load demo data first if the database has no users.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Load demo data into an empty database.
    SeedDemo,
    /// Manage staff users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a consistent copy of the SQLite database to FILE while the system runs.
    Backup { file: PathBuf },
    /// Replace the SQLite database with the backup FILE (stop the server first).
    Restore { file: PathBuf },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff user.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, env = "DMS_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// A role code, e.g. group_admin, store_manager, cashier.
        #[arg(long)]
        role: String,
        /// Store code (e.g. HT01) for a store role; omit for a group-wide role.
        #[arg(long)]
        store: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let cfg = Config::from_env(cli.config.as_deref()).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve { demo } => serve(cfg, demo),
        Command::Migrate => {
            let n = dms_db::migrate(&cfg.database_url).map_err(|e| e.to_string())?;
            println!("{n} migration(s) applied");
            Ok(())
        }
        Command::SeedDemo => {
            let pool = dms_db::connect_pool(&cfg.database_url, 2).map_err(|e| e.to_string())?;
            let mut c = pool.get().map_err(|e| e.to_string())?;
            if seed::has_users(&mut c).map_err(|e| e.to_string())? {
                return Err(
                    "the database already has users; demo data goes into an empty database only"
                        .into(),
                );
            }
            let s = seed::seed_demo(&mut c).map_err(|e| e.to_string())?;
            println!(
                "demo data loaded: {} stores, {} staff users, {} customers; every demo password is {}",
                s.stores,
                s.users,
                s.customers,
                seed::DEMO_PASSWORD
            );
            for line in &s.domains {
                println!("  {line}");
            }
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    password,
                    role,
                    store,
                    display_name,
                },
        } => {
            let role = dms_identity::Role::from_code(&role).ok_or_else(|| {
                let all: Vec<&str> = dms_identity::Role::ALL.iter().map(|r| r.code()).collect();
                format!("unknown role '{role}'; one of: {}", all.join(", "))
            })?;
            let pool = dms_db::connect_pool(&cfg.database_url, 2).map_err(|e| e.to_string())?;
            let mut c = pool.get().map_err(|e| e.to_string())?;
            let store_id = match store {
                None => None,
                Some(code) => Some(store_by_code(&mut c, &code)?),
            };
            let new = dms_identity::NewStaff {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                password,
                grants: vec![dms_identity::RoleGrant { role, store_id }],
            };
            let (u, _) =
                dms_identity::create_staff(&mut c, &dms_identity::Actor::system("cli"), None, &new)
                    .map_err(|e| e.to_string())?;
            println!("created user {} ({})", u.username, u.id);
            Ok(())
        }
        Command::Backup { file } => {
            let bytes =
                dms_db::backup_sqlite(&cfg.database_url, &file).map_err(|e| e.to_string())?;
            println!("backup written to {} ({bytes} bytes)", file.display());
            Ok(())
        }
        Command::Restore { file } => {
            let kept =
                dms_db::restore_sqlite(&cfg.database_url, &file).map_err(|e| e.to_string())?;
            if let Some(k) = kept {
                println!("previous database kept as {}", k.display());
            }
            let n = dms_db::migrate(&cfg.database_url).map_err(|e| e.to_string())?;
            println!(
                "restored {} into {} ({n} newer migration(s) applied)",
                file.display(),
                cfg.database_url
            );
            Ok(())
        }
        Command::Openapi => {
            let spec = dms_server::openapi()
                .to_pretty_json()
                .map_err(|e| e.to_string())?;
            println!("{spec}");
            Ok(())
        }
    }
}

fn store_by_code(c: &mut dms_db::DbConnection, code: &str) -> Result<String, String> {
    use diesel::prelude::*;
    use dms_db::schema::stores;
    stores::table
        .filter(stores::code.eq(code))
        .select(stores::id)
        .first::<String>(c)
        .optional()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no store with code {code}"))
}

fn serve(cfg: Config, demo: bool) -> Result<(), String> {
    cfg.check_for_serving().map_err(|e| e.to_string())?;
    let pool = dms_db::connect_pool(&cfg.database_url, cfg.database_pool_size)
        .map_err(|e| e.to_string())?;
    {
        let mut c = pool.get().map_err(|e| e.to_string())?;
        log::info!(
            "database: {} ({})",
            redact_url(&cfg.database_url),
            c.engine().name()
        );
        if demo && !seed::has_users(&mut c).map_err(|e| e.to_string())? {
            let s = seed::seed_demo(&mut c).map_err(|e| e.to_string())?;
            log::info!(
                "demo data loaded: {} stores, {} users, {} customers",
                s.stores,
                s.users,
                s.customers
            );
            for line in &s.domains {
                log::info!("demo data: {line}");
            }
        }
    }
    let listen = cfg.listen.clone();
    let workers = cfg.workers;
    let state = actix_web::web::Data::new(AppState::new(cfg, pool)?);
    dms_server::membership::start_jobs(&state);
    dms_server::crm::start_jobs(&state);
    actix_web::rt::System::new().block_on(async move {
        let mut server = actix_web::HttpServer::new(move || app(state.clone()));
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server
            .bind(&listen)
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        log::info!("listening on http://{listen}");
        server.run().await.map_err(|e| e.to_string())
    })
}

/// Database URLs may carry a password; logs get the host and database only.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}
