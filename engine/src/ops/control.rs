//! The control socket (`shoal ctl`, like `knotc` and `nsd-control`): a Unix socket,
//! mode 0600, on which each connection sends one command line and reads one reply.
//!
//! Commands: `status`, `zone-status [ZONE]`, `zone-read ZONE [OWNER [TYPE]]`,
//! `zone-refresh ZONE`, `zone-retransfer ZONE`, `zone-notify ZONE`, `cookie-rotate`,
//! `reload`, `stop`;
//! a trailing `--json` asks for JSON. The reply's first line is `ok` or
//! `error: <reason>`; the rest is the output. The server side runs on its own thread:
//! it reads the published zone set for `zone-read` ([`super::zone_read`]) and forwards
//! the rest to the transfer thread (or signals the process for `stop`), so a slow
//! client cannot stall anything else: each connection has a short I/O timeout.

use crate::serve::Shared;
use crate::transfer::Event;
use crate::zones::ZoneStatus;
use crossbeam_channel::Sender;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Start the control thread on `path` (an existing stale socket file is replaced).
pub fn start(
    path: &Path,
    events: Sender<Event>,
    shared: Arc<Shared>,
    started: std::time::Instant,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by a running server", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let p = path.to_path_buf();
    std::thread::Builder::new().name("shoal-control".into()).spawn(move || {
        for conn in listener.incoming() {
            match conn {
                Ok(c) => serve(c, &events, &shared, started),
                Err(e) => tracing::warn!("control socket {}: {e}", p.display()),
            }
        }
    })?;
    Ok(())
}

fn serve(conn: UnixStream, events: &Sender<Event>, shared: &Shared, started: std::time::Instant) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
    let mut line = String::new();
    let mut reader = BufReader::new(std::io::Read::take(&conn, 4096));
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let reply = match handle(line.trim(), events, shared, started) {
        Ok(out) => format!("ok\n{out}"),
        Err(e) => format!("error: {e}\n"),
    };
    let mut w = &conn;
    let _ = w.write_all(reply.as_bytes());
}

fn handle(line: &str, events: &Sender<Event>, shared: &Shared, started: std::time::Instant) -> Result<String, String> {
    let zones = &shared.zones;
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let json = words.last() == Some(&"--json");
    if json {
        words.pop();
    }
    let zone_arg = |w: &[&str]| -> Result<shoal_wire::Name, String> {
        let z = w.get(1).ok_or("this command needs a zone name")?;
        shoal_wire::name::from_ascii(z).map_err(|_| format!("{z:?} is not a domain name"))
    };
    let send = |ev| events.send(ev).map_err(|_| "the server is shutting down".to_string());
    match words.first().copied() {
        Some("status") => {
            let zones = status(events)?;
            let served = zones.iter().filter(|z| z.state == "served").count();
            let up = started.elapsed().as_secs();
            Ok(if json {
                serde_json::json!({ "running": true, "uptime_seconds": up, "zones": zones.len(), "zones_served": served, "version": env!("CARGO_PKG_VERSION") }).to_string() + "\n"
            } else {
                format!(
                    "running, version {}, up {up} s, {served} of {} zones served\n",
                    env!("CARGO_PKG_VERSION"),
                    zones.len()
                )
            })
        }
        Some("zone-status") => {
            let mut zones = status(events)?;
            if words.len() > 1 {
                let z = zone_arg(&words)?.to_string();
                zones.retain(|s| s.zone == z);
                if zones.is_empty() {
                    return Err(format!("no zone {z}"));
                }
            }
            Ok(if json { serde_json::to_string_pretty(&zones).unwrap_or_default() + "\n" } else { table(&zones) })
        }
        Some("zone-read") => super::zone_read::zone_read(&zones.load(), &words[1..], json),
        Some(cmd @ ("zone-refresh" | "zone-retransfer")) => {
            let zone = zone_arg(&words)?;
            known_secondary(events, &zone)?;
            send(Event::Refresh { zone: zone.clone(), force_axfr: cmd == "zone-retransfer" })?;
            Ok(format!("{cmd} {zone} started\n"))
        }
        Some("zone-notify") => {
            let zone = zone_arg(&words)?;
            known(events, &zone)?;
            send(Event::SendNotify { zone: zone.clone() })?;
            Ok(format!("NOTIFY for {zone} queued\n"))
        }
        Some("reload") => {
            crate::serve::cookie::reread_secret(shared);
            send(Event::Reload)?;
            Ok("reload started\n".into())
        }
        Some("cookie-rotate") => {
            let keeper = shared.cookies.as_ref().ok_or("DNS cookies are off ([cookies] enabled = false)")?;
            keeper.rotate().map_err(|e| e.to_string())?;
            Ok("new cookie secret in use; the previous one stays good for an hour\n".into())
        }
        Some("stop") => {
            shoal_io::signal::terminate_self().map_err(|e| e.to_string())?;
            Ok("stopping\n".into())
        }
        Some(other) => Err(format!(
            "unknown command {other:?} (status, zone-status, zone-read, zone-refresh, zone-retransfer, zone-notify, cookie-rotate, reload, stop)"
        )),
        None => Err("empty command".into()),
    }
}

/// Every zone's status, from the transfer thread (which answers between two events).
pub fn status(events: &Sender<Event>) -> Result<Vec<ZoneStatus>, String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    events.send(Event::Status { reply: tx }).map_err(|_| "the server is shutting down".to_string())?;
    rx.recv_timeout(IO_TIMEOUT).map_err(|_| "the transfer thread did not answer".to_string())
}

fn known(events: &Sender<Event>, zone: &shoal_wire::Name) -> Result<ZoneStatus, String> {
    let z = zone.to_string();
    status(events)?.into_iter().find(|s| s.zone == z).ok_or_else(|| format!("no zone {z}"))
}

fn known_secondary(events: &Sender<Event>, zone: &shoal_wire::Name) -> Result<(), String> {
    match known(events, zone)? {
        s if s.role == "secondary" => Ok(()),
        _ => Err(format!("{zone} is not a secondary zone")),
    }
}

fn table(zones: &[ZoneStatus]) -> String {
    let mut out = String::new();
    for z in zones {
        let serial = z.serial.map_or_else(|| "-".into(), |s| s.to_string());
        out.push_str(&format!(
            "{}  role={} state={} serial={serial} records={} journal={}",
            z.zone, z.role, z.state, z.records, z.journal_diffs
        ));
        if z.role == "secondary" {
            let opt = |v: Option<u64>, unit: &str| v.map_or_else(|| "-".into(), |x| format!("{x}{unit}"));
            out.push_str(&format!(
                " primaries={} primary_serial={} drift={} last_refresh={} next_refresh={} expires_in={} refreshing={} failures={}",
                z.primaries.join(","),
                z.primary_serial.map_or_else(|| "-".into(), |s| s.to_string()),
                z.drift.map_or_else(|| "-".into(), |d| d.to_string()),
                opt(z.last_refresh, ""),
                opt(z.next_refresh_in, "s"),
                opt(z.expires_in, "s"),
                z.refreshing,
                z.failures
            ));
        }
        if let Some(c) = &z.member_of {
            out.push_str(&format!(" catalog={c}"));
        }
        if let (Some(role), Some(n)) = (z.catalog_role, z.catalog_members) {
            out.push_str(&format!(" catalog_role={role} members={n}"));
        }
        if let Some(n) = z.catalog_refused {
            out.push_str(&format!(" refused={n}"));
        }
        out.push('\n');
    }
    out
}

/// The client side: send `command` to the socket and return (ok, output).
pub fn request(socket: &Path, command: &str) -> Result<(bool, String), String> {
    let mut s = UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to {} ({e}); is shoal running?", socket.display()))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    s.write_all(format!("{command}\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut s, &mut reply).map_err(|e| e.to_string())?;
    match reply.split_once('\n') {
        Some(("ok", rest)) => Ok((true, rest.to_string())),
        Some((err, rest)) => Ok((false, format!("{err}\n{rest}"))),
        None => Ok((false, reply)),
    }
}

/// The socket named by a configuration file.
pub fn socket_of(config: &Path) -> Result<PathBuf, String> {
    let c = crate::config::Config::load(config).map_err(|e| e.to_string())?;
    c.control_socket.ok_or_else(|| "no control socket configured".into())
}
