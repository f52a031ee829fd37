//! Starting the server: load zones, publish the zone set, bind every worker's sockets,
//! start one pinned worker thread per core and the transfer thread; reload and stop.

use crate::config::Config;
use crate::metrics::{Transport, WorkerStats};
use crate::serve::{self, Shared, Sockets};
use crate::transfer::{Event, Transfers};
use arc_swap::ArcSwap;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The DNS cookie secrets, when cookies are on: from the secret file (written with a
/// random secret when missing), or random for this run.
fn cookie_secrets(config: &Config) -> io::Result<Option<crate::access::cookies::Secrets>> {
    use crate::access::cookies::Secrets;
    if !config.cookies.enabled {
        return Ok(None);
    }
    match &config.cookies.secret_file {
        None => Ok(Some(Secrets::random())),
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            Secrets::load(path, None).map(Some).map_err(|e| io::Error::other(e.to_string()))
        }
    }
}

/// A running server.
pub struct Server {
    pub shared: Arc<Shared>,
    pub stats: Vec<Arc<WorkerStats>>,
    threads: Vec<std::thread::JoinHandle<io::Result<()>>>,
    transfer: Option<std::thread::JoinHandle<()>>,
    metrics: Option<std::thread::JoinHandle<()>>,
    events: crossbeam_channel::Sender<Event>,
    listen: Vec<std::net::SocketAddr>,
    control: Option<std::path::PathBuf>,
}

impl Server {
    /// Load the zones and start the workers. Fails if a socket cannot be bound.
    pub fn start(mut config: Config) -> io::Result<Server> {
        // The zones' configurations go to the transfer side, which keeps the only copy
        // (100,000 zones of configuration add up).
        let zones = std::mem::take(&mut config.zones);
        let (mut transfers, zone_set) = Transfers::new(Config { zones, ..config.clone() });
        let zone_set = Arc::new(ArcSwap::from_pointee(zone_set));
        let (events, rx) = crossbeam_channel::bounded(1024);
        transfers.connect(Arc::clone(&zone_set), events.clone());
        let refresh_stats = transfers.refresh_stats();
        let shared = Arc::new(Shared {
            zones: zone_set,
            identity: config.identity.as_ref().map(|s| s.as_bytes().to_vec()),
            version: config.version.as_ref().map(|s| s.as_bytes().to_vec()),
            udp_payload: config.udp_payload,
            tcp_idle_timeout: config.tcp_idle_timeout,
            tcp_max_connections: config.tcp_max_connections,
            tcp_max_per_source: config.tcp_max_per_source,
            tcp_max_queries: config.tcp_max_queries,
            workers: config.workers,
            stop: AtomicBool::new(false),
            drain_timeout: config.drain_timeout,
            events: Some(events.clone()),
            rrl: config.rrl.clone(),
            cookies: cookie_secrets(&config)?
                .map(|s| crate::access::cookies::CookieKeeper::new(s, config.cookies.secret_file.clone())),
        });
        // Bind everything first so a bad address fails before any thread starts.
        let mut sockets = Vec::new();
        for _ in 0..config.workers {
            sockets.push(Sockets::bind(&config.listen, config.udp_rcvbuf)?);
        }
        let xot = match &config.tls {
            Some(t) => Some(crate::transfer::tls::Acceptor::bind(&t.listen)?),
            None => None,
        };
        let cores = shoal_io::cpu::allowed_cores();
        let mut stats = Vec::new();
        let mut threads = Vec::new();
        for (i, s) in sockets.into_iter().enumerate() {
            let core = cores[i % cores.len()];
            let pin = config.workers <= cores.len();
            let pin_here = move |what: &str| {
                if pin {
                    if let Err(e) = shoal_io::cpu::pin_to_core(core) {
                        tracing::warn!(worker = i, core, "cannot pin {what} thread: {e}");
                    }
                }
            };
            let Sockets { udp, udp_replies, tcp } = s;
            for (k, (u, reply)) in udp.into_iter().zip(udp_replies).enumerate() {
                let st = Arc::new(WorkerStats::new(i, Transport::Udp, stats.len()));
                stats.push(Arc::clone(&st));
                let sh = Arc::clone(&shared);
                threads.push(std::thread::Builder::new().name(format!("shoal-udp-{i}.{k}")).spawn(move || {
                    pin_here("UDP");
                    serve::udp::run(u, reply, sh, st);
                    Ok(())
                })?);
            }
            let st = Arc::new(WorkerStats::new(i, Transport::Tcp, stats.len()));
            stats.push(Arc::clone(&st));
            let sh = Arc::clone(&shared);
            let listeners = tcp;
            threads.push(std::thread::Builder::new().name(format!("shoal-tcp-{i}")).spawn(move || {
                pin_here("TCP");
                let r = serve::run_tcp(listeners, sh, st);
                if let Err(e) = &r {
                    tracing::error!(worker = i, "TCP thread stopped: {e}");
                }
                r
            })?);
        }
        // With cores to spare, everything else (the transfer thread and the refresh and
        // transfer threads it starts, metrics, control) runs there, never beside a
        // worker: applying a big transfer must not take a worker's core. Threads inherit
        // the affinity of the thread that starts them, so this one is set first.
        let spare: Vec<usize> = cores.iter().skip(config.workers).copied().collect();
        if config.workers <= cores.len() && !spare.is_empty() {
            match shoal_io::cpu::pin_to_cores(&spare) {
                Ok(()) => tracing::info!(cores = ?spare, "transfer and control threads kept off the workers' cores"),
                Err(e) => tracing::warn!("cannot keep the transfer thread off the workers' cores: {e}"),
            }
        }
        let transfer = std::thread::Builder::new().name("shoal-transfer".into()).spawn(move || transfers.run(rx))?;
        if let (Some(acceptor), Some(t)) = (xot, &config.tls) {
            let sh = Arc::clone(&shared);
            threads.push(acceptor.spawn(events.clone(), move || sh.stop.load(std::sync::atomic::Ordering::Relaxed))?);
            for a in &t.listen {
                tracing::info!(
                    certificate = %t.certificate.display(),
                    pin = %t.identity.pin,
                    client_certificates = t.identity.mutual,
                    "zone transfers over TLS on {a}"
                );
            }
        }
        let started = std::time::Instant::now();
        let (report_stats, report_shared) = (stats.clone(), Arc::clone(&shared));
        threads.push(std::thread::Builder::new().name("shoal-report".into()).spawn(move || {
            crate::ops::bad_packets::report_bad_packets(report_stats, &report_shared.stop);
            Ok(())
        })?);
        let metrics = match config.metrics_listen {
            Some(addr) => {
                let ctx = crate::ops::http::Context {
                    workers: stats.clone(),
                    zones: Arc::clone(&shared.zones),
                    events: events.clone(),
                    refresh: Arc::clone(&refresh_stats),
                    started,
                    shared: Arc::clone(&shared),
                };
                let t = crate::ops::http::start(addr, ctx)?;
                tracing::info!("metrics on http://{addr}/metrics (and /health, /ready)");
                Some(t)
            }
            None => None,
        };
        if let Some(sock) = &config.control_socket {
            match crate::ops::control::start(sock, events.clone(), Arc::clone(&shared), started) {
                Ok(()) => tracing::info!("control socket {}", sock.display()),
                Err(e) => tracing::warn!("control socket {} not available: {e}", sock.display()),
            }
        }
        for a in &config.listen {
            tracing::info!(workers = config.workers, "listening on {a} (UDP and TCP)");
        }
        Ok(Server {
            shared,
            stats,
            threads,
            transfer: Some(transfer),
            metrics,
            events,
            control: config.control_socket.clone(),
            listen: config.listen.clone(),
        })
    }

    /// The addresses served.
    pub fn listen(&self) -> &[std::net::SocketAddr] {
        &self.listen
    }

    /// Ask the transfer thread to re-read the configuration and zone files, and read
    /// the cookie secret file again.
    pub fn reload(&self) {
        serve::cookie::reread_secret(&self.shared);
        let _ = self.events.send(Event::Reload);
    }

    /// Stop: workers stop reading, TCP threads drain the answers they owe (up to the
    /// drain timeout), then the transfer thread stops; waits for all of them.
    pub fn stop(mut self) {
        self.shared.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.events.send(Event::Stop);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(t) = self.transfer.take() {
            let _ = t.join();
        }
        if let Some(t) = self.metrics.take() {
            let _ = t.join();
        }
        if let Some(sock) = &self.control {
            let _ = std::fs::remove_file(sock);
        }
    }
}
