//! `shoal-loadtest`: a DNS load generator fast enough to saturate a one-core server on
//! loopback, and a UDP reflector that measures this machine's ceiling.
//!
//! `run` reads a query file in dnsperf's format (plus an optional third field `DO`
//! that sets the DO bit on that query alone), encodes it once, and sends it over UDP
//! (`sendmmsg`/`recvmmsg` on several connected sockets) or TCP (pipelined connections),
//! closed loop (a new query whenever one completes or times out, up to `-q` in flight) or
//! open loop (`-Q`, a fixed rate whatever the answers). Every response is checked against
//! the query it answers; the report repeats dnsperf's summary lines so scripts parse both
//! tools alike. `reflect` answers every datagram with itself.
//!
//! This file turns the command line into a validated [`Plan`] per thread, starts the
//! threads, merges their statistics and prints the report. The system calls are
//! `shoal_io`'s, and this crate has no `unsafe`. Modules: `query` (query file, encoding,
//! response checks), `slots` (outstanding queries by ID), `clock` (phases, pacing),
//! `stats` (counters, histogram, report), `udp` and `tcp` (the send/receive loops),
//! `reflect` (the reflector).
//!
//! ## Limitations
//!
//! - Queries go to one server address; no DoT, DoH or XFR load.
//! - TCP connections are opened at the start and kept: connection churn is not measured.

#![forbid(unsafe_code)]

mod clock;
mod query;
mod reflect;
mod slots;
mod stats;
mod tcp;
mod timeline;
mod udp;

use clap::{Args, Parser, Subcommand};
use clock::{Clock, Phases};
use query::{EncodeOptions, QuerySet};
use slots::SlotTable;
use stats::{Report, Stats};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "shoal-loadtest", version, about = "A DNS load generator (sendmmsg/recvmmsg) and a UDP reflector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send queries from a file to a server and report throughput, RCODEs and latency.
    ///
    /// Closed loop by default: up to -q queries in flight, a new one sent whenever one is
    /// answered or times out. With -Q, open loop: a fixed rate whatever the answers. The
    /// summary repeats dnsperf's lines ("Queries per second:", "Average Latency (s):", ...).
    /// An option given twice takes its last value.
    #[command(args_override_self = true)]
    Run(RunArgs),
    /// Answer every UDP datagram with itself, QR set: the machine's ceiling for a one-core server.
    ///
    /// Prints "listening on ADDR" once bound (ask for port 0 to get a free one).
    Reflect(ReflectArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Server address.
    #[arg(short = 's', long, default_value = "127.0.0.1")]
    server: IpAddr,
    /// Server port.
    #[arg(short = 'p', long, default_value_t = 53)]
    port: u16,
    /// Query file in dnsperf's format: one "name [TYPE]" per line; '#' and ';' start comments.
    #[arg(short = 'd', long = "datafile")]
    datafile: PathBuf,
    /// UDP sockets (or TCP connections), spread over the threads; each connected to the server.
    #[arg(short = 'c', long, default_value_t = 8)]
    clients: usize,
    /// Sending threads (each owns its share of the sockets and of -q). One thread is enough
    /// to load a one-core server; use more when the server has more cores.
    #[arg(short = 'T', long, default_value_t = 1)]
    threads: usize,
    /// Maximum queries outstanding, across all sockets (each socket gets an equal share).
    #[arg(short = 'q', long = "max-outstanding", default_value_t = 1000)]
    max_outstanding: usize,
    /// Open loop: send this many queries per second, paced by the clock, whatever the answers.
    #[arg(short = 'Q', long)]
    rate: Option<f64>,
    /// Seconds to measure (sending stops after this, then the last answers are awaited).
    #[arg(short = 'l', long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring starts (not counted in any figure).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Seconds after which an unanswered query counts as lost and frees its slot.
    #[arg(short = 't', long, default_value_t = 0.5)]
    timeout: f64,
    /// Messages per sendmmsg/recvmmsg call (UDP), or queries per write (TCP).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Add an EDNS0 OPT record (UDP payload 1232).
    #[arg(short = 'e', long)]
    edns: bool,
    /// Set the DNSSEC OK bit (implies --edns).
    #[arg(short = 'D', long)]
    dnssec: bool,
    /// Set RD (recursion desired); clear by default.
    #[arg(long)]
    rd: bool,
    /// Never sleep: poll the sockets in a busy loop instead of waiting in ppoll (lower
    /// latency and no wake-ups, at the cost of a whole core; for a pinned load generator).
    #[arg(long)]
    busy_poll: bool,
    /// Use TCP: -c connections, each pipelining its share of -q with 2-byte length prefixes.
    #[arg(long)]
    tcp: bool,
    /// UDP: bind the sockets to addresses in this many /24 prefixes of 127.0.0.0/8
    /// (127.200.P.1, socket i in prefix i mod N), as a flood with spoofed sources
    /// looks to a server on loopback (for response rate limiting); 0: the default source.
    #[arg(long, default_value_t = 0)]
    source_prefixes: usize,
    /// Append one CSV row of results to this file (a header first if it is new).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Label of the CSV row.
    #[arg(long, default_value = "")]
    label: String,
    /// Write answers per second and latency percentiles per window of time (--window-ms)
    /// to this CSV file: what the server did while something happened to it.
    #[arg(long)]
    timeline: Option<PathBuf>,
    /// Width of a --timeline window, milliseconds.
    #[arg(long, default_value_t = 100)]
    window_ms: u64,
}

#[derive(Args)]
struct ReflectArgs {
    /// Address to listen on (UDP).
    #[arg(long, default_value = "127.0.0.1:5300")]
    listen: SocketAddr,
    /// Threads, each with its own SO_REUSEPORT socket on the same address.
    #[arg(long, default_value_t = 1)]
    reuseport_threads: usize,
    /// Datagrams per recvmmsg/sendmmsg call.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 3600.0)]
    time_limit: f64,
    /// Spin on non-blocking sockets instead of sleeping in recvmmsg (takes a whole core).
    #[arg(long)]
    busy_poll: bool,
}

/// What one sending thread does: validated, with its share of sockets and queries.
pub struct Plan {
    pub server: SocketAddr,
    pub clients: usize,
    pub outstanding: usize,
    pub batch: usize,
    /// Open-loop rate of this thread, if any.
    pub rate: Option<f64>,
    pub phases: Phases,
    /// Where in the query file this thread starts.
    pub first_query: usize,
    /// Spin instead of sleeping when there is nothing to do.
    pub busy_poll: bool,
    /// Keep a timeline with windows this wide.
    pub window: Option<Duration>,
    /// Sockets bound in this many /24s of 127.0.0.0/8 (0: not bound).
    pub source_prefixes: usize,
    /// The index of this thread's first socket, over all threads.
    pub first_client: usize,
}

fn seconds(name: &str, value: f64, min: f64, max: f64) -> Result<Duration, String> {
    if !(value.is_finite() && value >= min && value <= max) {
        return Err(format!("{name} must be between {min} and {max} seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

fn plans(args: &RunArgs, queries: &QuerySet) -> Result<Vec<Plan>, String> {
    let duration = seconds("--duration", args.duration, 0.001, 86_400.0)?;
    let warmup = seconds("--warmup", args.warmup, 0.0, 3_600.0)?;
    let timeout = seconds("--timeout", args.timeout, 0.001, 60.0)?;
    if args.threads == 0 || args.threads > 256 {
        return Err("--threads must be between 1 and 256".into());
    }
    if args.clients < args.threads || args.clients > 4096 {
        return Err("--clients must be at least --threads and at most 4096".into());
    }
    if args.max_outstanding < args.clients || args.max_outstanding / args.clients >= SlotTable::MAX_CAPACITY {
        return Err(format!(
            "--max-outstanding must be at least --clients and at most {} per client",
            SlotTable::MAX_CAPACITY - 1
        ));
    }
    if args.window_ms == 0 || args.window_ms > 60_000 {
        return Err("--window-ms must be between 1 and 60000".into());
    }
    if args.source_prefixes > 256 || (args.source_prefixes > 0 && !args.server.is_loopback()) {
        return Err("--source-prefixes must be at most 256, against a server on loopback".into());
    }
    if args.batch == 0 || args.batch > 1024 {
        return Err("--batch must be between 1 and 1024".into());
    }
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
            return Err("--rate must be positive".into());
        }
    }
    let phases = Phases::new(warmup, duration, timeout);
    let server = SocketAddr::new(args.server, args.port);
    Ok((0..args.threads)
        .map(|t| {
            let clients = udp::share(args.clients, args.threads, t);
            let outstanding = udp::share(args.max_outstanding, args.threads, t);
            Plan {
                server,
                clients,
                outstanding,
                batch: args.batch,
                rate: args.rate.map(|r| r * clients as f64 / args.clients as f64),
                phases,
                first_query: t * queries.len() / args.threads,
                busy_poll: args.busy_poll,
                window: args.timeline.as_ref().map(|_| Duration::from_millis(args.window_ms)),
                source_prefixes: args.source_prefixes,
                first_client: (0..t).map(|u| udp::share(args.clients, args.threads, u)).sum(),
            }
        })
        .collect())
}

fn run(args: RunArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.datafile) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("shoal-loadtest: {}: {e}", args.datafile.display());
            return ExitCode::from(2);
        }
    };
    let options = EncodeOptions { recursion_desired: args.rd, edns: args.edns, dnssec_ok: args.dnssec };
    let queries = match QuerySet::parse(&text, options) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("shoal-loadtest: {}: {e}", args.datafile.display());
            return ExitCode::from(2);
        }
    };
    drop(text);
    let plans = match plans(&args, &queries) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shoal-loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    let transport = if args.tcp { "tcp" } else { "udp" };
    // Output goes through `say`, which ignores a closed stdout (`| head`) instead of panicking.
    let say = |text: String| {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    };
    say(format!(
        "shoal-loadtest: {transport} {} to {}:{}, {} {}, {} outstanding, {} thread(s), batch {}\n",
        args.rate.map_or("closed loop".to_string(), |r| format!("open loop at {r:.0} q/s")),
        args.server,
        args.port,
        args.clients,
        if args.tcp { "connections" } else { "sockets" },
        args.max_outstanding,
        args.threads,
        args.batch,
    ));
    say(format!(
        "  {} queries from {}; {} s (warm-up {} s), timeout {} s\n\n",
        queries.len(),
        args.datafile.display(),
        args.duration,
        args.warmup,
        args.timeout
    ));

    let clock = Clock::new(Instant::now());
    let results: Vec<std::io::Result<Stats>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .map(|plan| {
                let queries = &queries;
                scope.spawn(
                    move || if args.tcp { tcp::run(plan, queries, clock) } else { udp::run(plan, queries, clock) },
                )
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("load thread panicked")).collect()
    });
    let mut stats = Stats::new();
    for r in results {
        match r {
            Ok(s) => stats.merge(&s),
            Err(e) => {
                eprintln!("shoal-loadtest: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let phases = plans[0].phases;
    // The measurement lasts the asked-for duration, or until the last answer if answers
    // still came after sending stopped. (Waiting for queries that are finally lost does not
    // count: it would lower the rate of a server for its losses twice.)
    let elapsed = Duration::from_nanos(stats.last_answer_ns.max(phases.send_end_ns) - phases.measure_ns);
    let report = Report {
        stats: &stats,
        elapsed,
        label: &args.label,
        transport,
        rate: args.rate,
        clients: args.clients,
        outstanding: args.max_outstanding,
    };
    say(report.text());
    if let (Some(path), Some(t)) = (&args.timeline, &stats.timeline) {
        let windows = (phases.send_end_ns - phases.measure_ns).div_ceil(args.window_ms * 1_000_000) as usize;
        if let Err(e) = t.write_csv(path, windows) {
            eprintln!("shoal-loadtest: {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if let Some(path) = &args.csv {
        if let Err(e) = report.append_csv(path) {
            eprintln!("shoal-loadtest: {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn reflect(args: ReflectArgs) -> ExitCode {
    let time_limit = match seconds("--time-limit", args.time_limit, 0.001, 86_400.0) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("shoal-loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    if args.reuseport_threads == 0 || args.reuseport_threads > 256 || args.batch == 0 || args.batch > 1024 {
        eprintln!("shoal-loadtest: --reuseport-threads must be 1..=256 and --batch 1..=1024");
        return ExitCode::from(2);
    }
    let options = reflect::ReflectOptions {
        listen: args.listen,
        threads: args.reuseport_threads,
        batch: args.batch,
        time_limit,
        busy_poll: args.busy_poll,
    };
    match reflect::run(&options) {
        Ok(n) => {
            eprintln!("shoal-loadtest reflect: echoed {n} datagrams");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shoal-loadtest reflect: {}: {e}", args.listen);
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run(args),
        Command::Reflect(args) => reflect(args),
    }
}
