//! Batches over real sockets on 127.0.0.1: one `recvmmsg` takes what one `sendmmsg`
//! sent, with sources, lengths and truncation; a refused destination in the middle of a
//! batch does not stop the rest; a batch sends no more than its capacity.

use shoal_io::{socket, RecvBatch, SendBatch, Transmit};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const SLOT: usize = 512;

fn server() -> UdpSocket {
    let s = socket::udp_reuseport_blocking("127.0.0.1:0".parse().unwrap(), 1 << 20, Duration::from_secs(2)).unwrap();
    assert!(s.local_addr().unwrap().port() != 0);
    s
}

/// Receive until `want` datagrams have come (a batch may take fewer than were sent).
fn receive_all(recv: &mut RecvBatch, sock: &UdpSocket, want: usize) -> Vec<(Vec<u8>, SocketAddr, bool)> {
    let mut got = Vec::new();
    while got.len() < want {
        let n = recv.recv(sock, true).unwrap();
        assert!(n > 0, "timed out with {} of {want}", got.len());
        for i in 0..n {
            got.push((recv.datagram(i).to_vec(), recv.peer(i).unwrap(), recv.truncated(i)));
        }
    }
    got
}

#[test]
fn a_batch_goes_to_its_addresses_and_comes_back_with_sources_and_truncation() {
    let server_sock = server();
    let server_addr = server_sock.local_addr().unwrap();
    let client = socket::udp_connected(server_addr, None, 1 << 20).unwrap();
    let client_addr = client.local_addr().unwrap();

    // A connected client: two pieces each, the second message longer than a slot.
    let long = vec![7u8; SLOT + 100];
    let messages = [Transmit::connected(b"\x00\x01", b"first"), Transmit::connected(b"\x00\x02", &long)];
    let mut send = SendBatch::new(8);
    assert_eq!(send.send_once(&client, messages).unwrap(), 2);

    let mut recv = RecvBatch::new(8, SLOT);
    let got = receive_all(&mut recv, &server_sock, 2);
    assert_eq!(got[0], (b"\x00\x01first".to_vec(), client_addr, false));
    assert_eq!(got[1].0.len(), SLOT, "cut at the slot");
    assert!(got[1].2, "and flagged");
    assert_eq!(got[1].1, client_addr);

    // Back to the sources, by address, from a batch of received datagrams changed in place.
    let n = recv.len();
    for i in 0..n {
        recv.datagram_mut(i)[0] = 0x80;
    }
    let back = (0..n).map(|i| Transmit::to(recv.peer(i).unwrap(), recv.datagram(i)));
    assert_eq!(send.send(&server_sock, back, false).unwrap(), n);
    let mut client_recv = RecvBatch::new(4, 2 * SLOT);
    let echoed = receive_all(&mut client_recv, &client, n);
    assert_eq!(echoed.iter().map(|(_, from, _)| *from).collect::<Vec<_>>(), vec![server_addr; n]);
    assert_eq!(&echoed.last().unwrap().0[..2], b"\x80\x02");

    // Nothing waiting: no wait, no error.
    assert_eq!(client_recv.recv(&client, false).unwrap(), 0);
}

#[test]
fn a_refused_destination_does_not_drop_the_rest_of_the_batch() {
    let server_sock = server();
    let server_addr = server_sock.local_addr().unwrap();
    let sender = socket::udp_reuseport("127.0.0.1:0".parse().unwrap(), 0, 0).unwrap();
    // An IPv6 destination on an IPv4 socket: the kernel refuses that message alone.
    let bad: SocketAddr = "[::1]:53".parse().unwrap();
    let messages = [Transmit::to(server_addr, b"one"), Transmit::to(bad, b"lost"), Transmit::to(server_addr, b"three")];
    let mut send = SendBatch::new(4);
    assert_eq!(send.send(&sender, messages, false).unwrap(), 2, "the refused one is not counted");
    let mut recv = RecvBatch::new(4, SLOT);
    let got = receive_all(&mut recv, &server_sock, 2);
    assert_eq!(got.iter().map(|(d, _, _)| d.as_slice()).collect::<Vec<_>>(), [&b"one"[..], b"three"]);

    // When the last message is the one refused, its error is returned.
    assert!(send.send(&sender, [Transmit::to(bad, b"x")], false).is_err());
}

#[test]
fn a_batch_sends_no_more_than_its_capacity() {
    let server_sock = server();
    let client = socket::udp_connected(server_sock.local_addr().unwrap(), None, 1 << 20).unwrap();
    let mut send = SendBatch::new(2);
    let messages = (0..5u8).map(|_| Transmit::connected(b"abc", &[]));
    assert_eq!(send.send(&client, messages, true).unwrap(), 2);
    let mut recv = RecvBatch::new(8, SLOT);
    assert_eq!(receive_all(&mut recv, &server_sock, 2).len(), 2);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(recv.recv(&server_sock, false).unwrap(), 0, "the rest was not sent");
}
