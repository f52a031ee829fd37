//! `shoal`: the command line. `serve` runs the server, `check` validates a
//! configuration and its zone files without serving.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use shoal_engine::config::{Config, LogConfig, LogFormat, ZoneSource};
use shoal_io::signal;
use std::path::PathBuf;
use std::process::ExitCode;

// mimalloc: fast, and returns freed snapshot memory to the OS promptly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "An authoritative DNS server",
    long_about = "Shoal answers authoritative DNS queries over UDP and TCP from zones it loads from master \
files (primary) or pulls from a primary by AXFR/IXFR (secondary).\n\n\
Run `shoal serve` to serve the bundled example zone on 127.0.0.1:5353, or `shoal serve --config FILE` \
for a configuration (see dist/shoal.toml for every option). `shoal help COMMAND` describes a command.",
    after_help = "ENVIRONMENT:\n  RUST_LOG    log filter directives (e.g. \"info,shoal_engine::transfer=debug\"); \
overrides [log] level\n\nFILES:\n  /etc/shoal/shoal.toml       the configuration (dist/shoal.toml is a commented sample)\n  \
/var/lib/shoal              state_dir: secondary zone copies and journals\n  \
/run/shoal/control.sock     the control socket of `shoal ctl`"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones of a configuration (default: the bundled example zone on 127.0.0.1:5353).
    #[command(long_about = "Serve the zones of a configuration until SIGTERM or SIGINT.\n\n\
Without --config, serves the bundled example.com. zone on 127.0.0.1:5353 (try \
`dig @127.0.0.1 -p 5353 www.example.com A`).\n\n\
Zones that fail to load are logged with zone, file and line and answer SERVFAIL; the others are \
served. SIGHUP reloads the configuration and changed zone files (a bad configuration is rejected and \
the running one kept). SIGTERM stops reading queries, writes the TCP answers already owed (up to \
[server] drain_timeout seconds) and exits 0. With [metrics] listen, /metrics, /health and /ready are \
served over HTTP.")]
    Serve {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration and every zone file it names; exit 1 on any error.
    #[command(long_about = "Validate a configuration and every zone file it names, without serving.\n\n\
Prints one line per zone (serial and record count) and every error with its zone, file and line; \
exits 1 if anything is wrong. A ZONEMD digest that does not match the zone is an error (unless the zone \
sets zonemd_verify = false). DNSSEC warnings do not fail the check: RRsets without an RRSIG in a signed \
zone, RRSIGs that expire within 7 days or have expired, broken NSEC or NSEC3 chains. Secondary zones \
without a copy in state_dir yet are reported, not errors.")]
    Check {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Control a running server through its control socket.
    #[command(long_about = "Control a running server through its control socket ([control] socket, \
default <state_dir>/control.sock, mode 0600), like knotc or nsd-control.\n\n\
COMMANDS:\n  \
status                 running, version, uptime, zones served\n  \
zone-status [ZONE]     serial, role, primaries, last and next refresh, expire deadline, state\n  \
zone-read ZONE [OWNER [TYPE]]  the records the zone serves now (as knotc zone-read)\n  \
zone-refresh ZONE      check the primary's SOA now (secondary zones)\n  \
zone-retransfer ZONE   transfer the whole zone by AXFR now (secondary zones)\n  \
zone-notify ZONE       send NOTIFY to the zone's notify targets now\n  \
reload                 re-read the configuration and changed zone files (as SIGHUP)\n  \
stop                   stop the server (as SIGTERM)\n\n\
Output is for humans; --json prints JSON for scripts. Errors (unknown zone, no server running) are \
printed to stderr and the exit status is 1.")]
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
        /// The command and its zone argument, e.g. `zone-status example.com.`.
        #[arg(required = true, num_args = 1..)]
        command: Vec<String>,
    },
    /// Reload the configuration and zone files of a running server (same as
    /// `shoal ctl reload`, or SIGHUP).
    Reload {
        /// The server's configuration (to find its control socket).
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    shoal_io::memory::return_freed_memory_at_once();
    match Cli::parse().command {
        Command::Serve { config } => serve(config),
        Command::Check { config } => {
            init_logging(&LogConfig::default());
            check(config)
        }
        Command::Ctl { config, socket, json, command } => ctl(config, socket, json, &command.join(" ")),
        Command::Reload { config } => ctl(Some(config), None, false, "reload"),
    }
}

/// Log to stderr as `[log]` says: text (colored on a terminal) or JSON lines, filtered by
/// `RUST_LOG` (or the older `SHOAL_LOG`) if set, else by `[log] level`, else `info`.
fn init_logging(log: &LogConfig) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_from_env("SHOAL_LOG"))
        .or_else(|_| EnvFilter::try_new(log.level.as_deref().unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Human => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
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
    init_logging(&config.log);
    // Signals are taken synchronously by this thread; block them before any other
    // thread starts so they inherit the mask.
    let signals = [signal::SIGHUP, signal::SIGTERM, signal::SIGINT];
    if let Err(e) = signal::block(&signals) {
        eprintln!("error: cannot set up signals: {e}");
        return ExitCode::FAILURE;
    }
    let builtin = config.zones.iter().any(|z| matches!(z.source, ZoneSource::Builtin));
    let server = match shoal_engine::server::Server::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if builtin {
        let a = server.listen()[0];
        tracing::info!("serving the bundled example zone: try  dig @{} -p {} www.example.com A", a.ip(), a.port());
    }
    loop {
        match signal::wait(&signals) {
            Ok(signal::SIGHUP) => {
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
        (None, Some(c)) => match shoal_engine::ops::control::socket_of(&c) {
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
    match shoal_engine::ops::control::request(&socket, &line) {
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
        if let shoal_engine::config::CatalogRole::Producer(listed) = &z.catalog {
            // Written by the server (which keeps its serial); checking must not write it.
            println!("zone {}: producer catalog listing {} zones", z.name, listed.len());
            continue;
        }
        match shoal_engine::zones::load::load(z) {
            Ok(s) => {
                println!("zone {}: ok, serial {}, {} records", z.name, s.serial(), s.record_count());
                dnssec_warnings(&z.name, &s);
            }
            Err(e) => {
                failed = true;
                for m in e.messages() {
                    eprintln!("error: {m}");
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

/// DNSSEC warnings shown per zone by `shoal check`, at most (then how many more).
const WARNINGS_SHOWN: usize = 50;

/// Print the DNSSEC audit of a loaded zone: warnings, not errors (the check passes).
fn dnssec_warnings(zone: &shoal_wire::Name, snapshot: &shoal_zonedb::Snapshot) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // RRSIG times are seconds since 1970 modulo 2^32 (RFC 4034 §3.1.5).
    let warnings = shoal_zonedb::audit::dnssec_audit(snapshot, now as u32);
    for w in warnings.iter().take(WARNINGS_SHOWN) {
        eprintln!("warning: zone {zone}: {w}");
    }
    if warnings.len() > WARNINGS_SHOWN {
        eprintln!("warning: zone {zone}: {} more DNSSEC warnings not shown", warnings.len() - WARNINGS_SHOWN);
    }
}
