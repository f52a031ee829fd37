//! End to end: start `shoal-loadtest reflect` on a free loopback port, run one second of
//! load against it (UDP, then TCP against nothing to show losses are counted), and check
//! the report. No timing or throughput assertions: the machine running tests is busy.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_shoal-loadtest");

/// Kills the child when dropped, so a failed assertion leaves no reflector behind.
struct Reflector {
    child: Child,
    port: u16,
}

impl Reflector {
    fn start() -> Reflector {
        let mut child = Command::new(BIN)
            .args(["reflect", "--listen", "127.0.0.1:0", "--time-limit", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reflector");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("read its address");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let port = addr.rsplit(':').next().unwrap().parse().expect("a port");
        Reflector { child, port }
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query_file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.txt", std::process::id()));
    let mut text = String::from("# test queries\n");
    for i in 0..100 {
        text.push_str(&format!("host{i}.example.com A\nhost{i}.example.com AAAA\n"));
    }
    text.push_str("Example.COM. MX\n");
    std::fs::write(&path, text).expect("write the query file");
    path
}

/// The number after `label` in a report line such as "  Queries completed:    12 (100.00%)".
fn field(report: &str, label: &str) -> u64 {
    let line =
        report.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label} in {report}"));
    line[line.find(':').unwrap() + 1..].split_whitespace().next().unwrap().parse().unwrap()
}

fn run_load(port: u16, file: &Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["run", "-s", "127.0.0.1", "-p", &port.to_string(), "-d", file.to_str().unwrap(), "-l", "1"])
        .args(extra)
        .output()
        .expect("run the load");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn reflector_answers_closed_loop_udp_load() {
    let reflector = Reflector::start();
    let file = query_file("closed");
    let csv = file.with_extension("csv");
    let _ = std::fs::remove_file(&csv);
    let report = run_load(reflector.port, &file, &["--edns", "--csv", csv.to_str().unwrap(), "--label", "reflector"]);
    assert!(field(&report, "Queries completed:") > 0, "{report}");
    assert_eq!(field(&report, "Errors:"), 0, "{report}");
    assert!(report.contains("Queries per second:"), "{report}");
    assert!(report.contains("Average Latency (s):"), "{report}");
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert!(rows.lines().nth(1).unwrap().starts_with("reflector,udp,closed,"), "{rows}");
}

#[test]
fn reflector_answers_open_loop_udp_load() {
    let reflector = Reflector::start();
    let file = query_file("open");
    let report = run_load(reflector.port, &file, &["-Q", "2000", "-c", "2", "--warmup", "0.2"]);
    assert!(field(&report, "Queries completed:") > 0, "{report}");
    assert_eq!(field(&report, "Errors:"), 0, "{report}");
}

#[test]
fn queries_to_a_silent_port_are_lost_not_completed() {
    // A bound socket that never answers: every query times out.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let file = query_file("silent");
    let report = run_load(port, &file, &["-q", "20", "-c", "2", "-t", "0.1"]);
    assert_eq!(field(&report, "Queries completed:"), 0, "{report}");
    assert!(field(&report, "Queries lost:") > 0, "{report}");
}

/// A TCP echo "server" for the test: answers every framed message with itself, QR set,
/// on up to `connections` connections, each until the client closes it.
fn tcp_echo(connections: usize) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for stream in listener.incoming().take(connections) {
            let mut stream = stream.unwrap();
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            workers.push(std::thread::spawn(move || {
                let mut len = [0u8; 2];
                let mut message = vec![0u8; 65535];
                while stream.read_exact(&mut len).is_ok() {
                    let n = u16::from_be_bytes(len) as usize;
                    if stream.read_exact(&mut message[..n]).is_err() {
                        break;
                    }
                    message[2] |= 0x80;
                    if stream.write_all(&len).and_then(|_| stream.write_all(&message[..n])).is_err() {
                        break;
                    }
                }
            }));
        }
        for w in workers {
            let _ = w.join();
        }
    });
    (port, handle)
}

#[test]
fn pipelined_tcp_load_is_checked_like_udp() {
    let (port, server) = tcp_echo(2);
    let file = query_file("tcp");
    let report = run_load(port, &file, &["--tcp", "-c", "2", "-q", "100", "--batch", "16"]);
    assert!(field(&report, "Queries completed:") > 0, "{report}");
    assert_eq!(field(&report, "Errors:"), 0, "{report}");
    server.join().unwrap();
}
