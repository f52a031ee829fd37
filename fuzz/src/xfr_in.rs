//! The `xfr_in` target: the messages of an AXFR or IXFR response fed to the stream
//! parser ([`XfrParser`]) as `engine/src/transfer/client.rs` feeds them, and what it
//! received made into the next version of the held zone ([`super::fixtures::held`]) as
//! `engine/src/transfer/refresh.rs` makes it: a whole zone through [`Incoming`] (compared
//! with the held version as it streams in), diffs through [`apply`]; the result's ZONEMD
//! verified.
//!
//! What must hold besides not panicking, for a zone received whole with a version held:
//! the version derived from the held one has the records of the same stream built from
//! nothing, and the diff it reports, applied to the held version, gives those records
//! too (the journal serves that diff to secondaries as an IXFR). For diffs, the version
//! derived has the last diff's serial and the records of the same diffs applied one by
//! one.
//!
//! Input: one byte of mode, then messages ([`super::stream`]).
//! - bit 0: an IXFR from the held serial; otherwise an AXFR;
//! - bit 1: an AXFR with the held version to compare with (an IXFR always has it);
//! - bit 2: build the whole version from the first changed owner on (`with_limit(0)`).

use super::fixtures;
use super::stream::frames;
use shoal_zonedb::change::apply::{apply, records_of};
use shoal_zonedb::change::diff::Diff;
use shoal_zonedb::change::incoming::{Applied, Incoming};
use shoal_zonedb::change::xfr_in::{Received, XfrParser};
use shoal_zonedb::change::ApplyError;
use shoal_zonedb::Snapshot;

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let messages = frames(rest);
    let held = fixtures::held();
    let ixfr = mode & 1 != 0;
    let with_held = (ixfr || mode & 2 != 0).then_some(held);
    let build_all = mode & 4 != 0;
    let Some((received, incoming)) = receive(&messages, ixfr.then(|| held.serial()), with_held, build_all) else {
        return;
    };
    match received {
        Received::UpToDate { .. } => {}
        Received::Full { .. } => {
            let applied = incoming.finish();
            if let Ok(a) = &applied {
                verify_zonemd(&a.snapshot);
            }
            if with_held.is_some() {
                check_whole(&messages, ixfr, held, &applied);
            }
        }
        Received::Incremental(diffs) => {
            if let Ok(s) = apply(held, &diffs) {
                verify_zonemd(&s);
                check_incremental(held, &diffs, &s);
            }
        }
    }
}

/// `messages` through a parser and an [`Incoming`]; `None` when the stream is refused.
fn receive<'h>(
    messages: &[&[u8]],
    client_serial: Option<u32>,
    held: Option<&'h Snapshot>,
    build_all: bool,
) -> Option<(Received, Incoming<'h>)> {
    let apex = fixtures::transfer_apex();
    let mut parser = XfrParser::new(apex.clone(), client_serial);
    let mut incoming = Incoming::new(&apex, held, "fuzz");
    if build_all {
        incoming = incoming.with_limit(0);
    }
    for m in messages {
        let _ = shoal_wire::edns::expire_value(m);
        parser.feed(m, &mut incoming).ok()?;
        if parser.done() {
            break;
        }
    }
    Some((parser.finish().ok()?, incoming))
}

/// A zone received whole against the held version: the same stream built from nothing
/// gives the same records, and so does the reported diff applied to the held version.
fn check_whole(messages: &[&[u8]], ixfr: bool, held: &Snapshot, applied: &Result<Applied, ApplyError>) {
    let Some((_, fresh)) = receive(messages, ixfr.then(|| held.serial()), None, false) else {
        panic!("the stream was refused without a version held, accepted with one");
    };
    let built = fresh.finish();
    let (a, b) = match (applied, &built) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(_), Err(_)) => return,
        (a, b) => panic!(
            "received against the held version: {:?}; built from nothing: {:?}",
            a.as_ref().map(|a| a.snapshot.serial()),
            b.as_ref().map(|b| b.snapshot.serial())
        ),
    };
    let records = records_of(&b.snapshot);
    assert!(records_of(&a.snapshot) == records, "the derived version differs from the one built from nothing");
    if let Some(diff) = &a.diff {
        let replayed = apply(held, std::slice::from_ref(diff)).expect("the reported diff applies to the held version");
        assert!(records_of(&replayed) == records, "the reported diff does not lead to the version received");
    }
}

/// Diffs applied at once: the version has the last diff's serial, and the records of
/// the same diffs applied one after another (as a secondary that took each IXFR alone).
fn check_incremental(held: &Snapshot, diffs: &[Diff], at_once: &Snapshot) {
    let last = diffs.last().expect("an IXFR has a diff");
    assert_eq!(at_once.serial(), last.new_serial(), "the version does not have the last diff's serial");
    let mut stepped = None;
    for d in diffs {
        let Ok(next) = apply(stepped.as_ref().unwrap_or(held), std::slice::from_ref(d)) else { return };
        stepped = Some(next);
    }
    let stepped = stepped.expect("an IXFR has a diff");
    assert!(records_of(&stepped) == records_of(at_once), "diffs applied at once and one by one differ");
}

fn verify_zonemd(s: &Snapshot) {
    let _ = shoal_zonedb::audit::zonemd::verify(s);
}
