//! `shoal`: the command line. `serve` runs the server, `check` validates a
//! configuration and its zone files without serving.

use clap::{Parser, Subcommand};
use shoal_engine::config::{Config, ZoneSource};
use std::path::PathBuf;
use std::process::ExitCode;

// mimalloc: fast, and returns freed snapshot memory to the OS promptly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "shoal", version, about = "An authoritative DNS server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones of a configuration (default: the bundled example zone on 127.0.0.1:5353).
    Serve {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration and every zone file it names; exit 1 on any error.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Control a running server through its control socket.
    ///
    /// COMMAND is one of: status, zone-status [ZONE], zone-refresh ZONE,
    /// zone-retransfer ZONE, zone-notify ZONE, reload, stop.
    Ctl {
        /// The server's configuration (to find its control socket).
        #[arg(long, short, conflicts_with = "socket")]
        config: Option<PathBuf>,
        /// The control socket itself.
        #[arg(long, short)]
        socket: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[arg(required = true, num_args = 1..)]
        command: Vec<String>,
    },
    /// Reload the configuration and zone files of a running server (same as
    /// `shoal ctl reload`, or SIGHUP).
    Reload {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SHOAL_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve { config } => serve(config),
        Command::Check { config } => check(config),
        Command::Ctl { config, socket, json, command } => ctl(config, socket, json, &command.join(" ")),
        Command::Reload { config } => ctl(Some(config), None, false, "reload"),
    }
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let config = match path {
        Some(p) => match Config::load(&p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Config::builtin(),
    };
    // Signals are taken synchronously by this thread; block them before any other
    // thread starts so they inherit the mask.
    let signals = [libc::SIGHUP, libc::SIGTERM, libc::SIGINT];
    if let Err(e) = shoal_engine::sys::block_signals(&signals) {
        eprintln!("error: cannot set up signals: {e}");
        return ExitCode::FAILURE;
    }
    let server = match shoal_engine::server::Server::start(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.zones.iter().any(|z| matches!(z.source, ZoneSource::Builtin)) {
        let a = config.listen[0];
        tracing::info!("serving the bundled example zone: try  dig @{} -p {} www.example.com A", a.ip(), a.port());
    }
    loop {
        match shoal_engine::sys::wait_signal(&signals) {
            Ok(libc::SIGHUP) => {
                tracing::info!("SIGHUP: reloading");
                server.reload();
            }
            Ok(sig) => {
                tracing::info!(signal = sig, "stopping");
                break;
            }
            Err(e) => {
                tracing::error!("waiting for signals failed: {e}");
                break;
            }
        }
    }
    server.stop();
    ExitCode::SUCCESS
}

fn ctl(config: Option<PathBuf>, socket: Option<PathBuf>, json: bool, command: &str) -> ExitCode {
    let socket = match (socket, config) {
        (Some(s), _) => s,
        (None, Some(c)) => match shoal_engine::control::socket_of(&c) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        (None, None) => {
            eprintln!("error: give --config FILE or --socket PATH");
            return ExitCode::FAILURE;
        }
    };
    let line = if json { format!("{command} --json") } else { command.to_string() };
    match shoal_engine::control::request(&socket, &line) {
        Ok((true, out)) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Ok((false, out)) => {
            eprint!("{out}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: PathBuf) -> ExitCode {
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for z in &config.zones {
        if let Some(p) = z.state_path().filter(|p| !p.exists()) {
            println!("zone {}: secondary, no copy in {} yet (it will be transferred)", z.name, p.display());
            continue;
        }
        match shoal_engine::zones::load(z) {
            Ok(s) => println!("zone {}: ok, serial {}, {} records", z.name, s.serial(), s.record_count()),
            Err(errors) => {
                failed = true;
                for e in errors {
                    eprintln!("error: {e}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
