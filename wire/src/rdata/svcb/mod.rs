//! SVCB and HTTPS parameters (RFC 9460): the SvcParams after SvcPriority and
//! TargetName, read from presentation tokens into wire form and shown back as text.
//!
//! Reading (RFC 9460 §2.1, Appendix A): every token left is one `key[=value]`. A key is
//! a name (`mandatory`, `alpn`, `no-default-alpn`, `port`, `ipv4hint`, `ech`,
//! `ipv6hint`, `dohpath`) or `keyNNNNN`; `key1` means `alpn` and is read as `alpn` is.
//! The lexer hands `alpn="h2,h3"` over as the token `alpn=` followed by the quoted
//! token `h2,h3`, so a token ending in `=` takes the next, quoted, token as its value.
//! A value is character-string decoded first (`\DDD`, `\X`), then, for the list keys,
//! split on commas with `\,` and `\\` escapes (Appendix A.1). The wire form has the
//! parameters sorted by key (§2.2) and `mandatory`'s keys sorted too (§8).
//!
//! Checks made (§2.2, §7, §8, RFC 9461 §5): no key twice; every key `mandatory` lists
//! is present, listed once, and is not `mandatory` itself; `no-default-alpn` has no
//! value; ALPN ids are 1 to 255 bytes; ports are 0-65535; hints are addresses of their
//! family; `ech` is base64; `dohpath` is non-empty UTF-8; no value is over 65535 bytes.
//!
//! Showing: Knot's spelling (checked against `kdig` from Knot 3.2): `key=value` in wire
//! order separated by one space; unknown keys as `keyNNNNN="…"` with `\DDD` escapes,
//! or a bare `keyNNNNN` when the value is empty. Wire data that the reader would refuse
//! (keys out of order, a malformed value) is an error, so the caller falls back to the
//! RFC 3597 form and what is shown always reads back to the same bytes.
//!
//! Limitations: AliasMode records (SvcPriority 0) are not checked for parameters
//! (§2.4.2 says they SHOULD have none; the priority is not this module's field);
//! `no-default-alpn` without `alpn` is accepted (§7.1.1 calls that record
//! inconsistent, not invalid); `dohpath` is not checked to be a URI template with a
//! `dns` variable (RFC 9461 §5).

use super::cursor::{Cursor, Reader, Token};
use super::error::RdataError;
use super::text;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

const MANDATORY: u16 = 0;
const ALPN: u16 = 1;
const NO_DEFAULT_ALPN: u16 = 2;
const PORT: u16 = 3;
const IPV4HINT: u16 = 4;
const ECH: u16 = 5;
const IPV6HINT: u16 = 6;
const DOHPATH: u16 = 7;

/// The keys with a name (RFC 9460 §14.3.2, RFC 9461 §5), indexed by number.
const NAMES: [&str; 8] = ["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath"];

/// The field errors name: the key's name, or the whole list for other keys.
fn label(key: u16) -> &'static str {
    NAMES.get(usize::from(key)).copied().unwrap_or("parameters")
}

/// Read every token left as one parameter each, and append them in wire form.
pub fn parse(c: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    while let Some(token) = c.maybe() {
        let (key, value) = read_param(token, c)?;
        if params.iter().any(|(k, _)| *k == key) {
            return Err(RdataError::new(label(key), format!("`{}` appears twice", key_name(key))));
        }
        let wire = value_wire(key, value)?;
        if wire.len() > usize::from(u16::MAX) {
            return Err(RdataError::new(label(key), "value longer than 65535 bytes"));
        }
        params.push((key, wire));
    }
    params.sort_by_key(|(k, _)| *k);
    let refs: Vec<(u16, &[u8])> = params.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    check_mandatory(&refs)?;
    for (key, value) in &refs {
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
    }
    Ok(())
}

/// One `key[=value]`: the key's number and its character-string-decoded value, `None`
/// when there is no `=`.
fn read_param(token: Token<'_>, c: &mut Cursor<'_, '_>) -> Result<(u16, Option<Vec<u8>>), RdataError> {
    if token.quoted {
        return Err(RdataError::new(
            "parameters",
            format!("expected key=value, found the quoted string \"{}\"", token.text),
        ));
    }
    let (name, inline) = match token.text.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (token.text, None),
    };
    let key = key_number(name).map_err(|reason| RdataError::new("parameters", format!("{reason}: `{name}`")))?;
    let raw = match inline {
        None => return Ok((key, None)),
        Some("") => match c.peek() {
            Some(next) if next.quoted => {
                c.maybe();
                next.text
            }
            _ => return Err(RdataError::new(label(key), "expected a value after `=`")),
        },
        Some(value) => value,
    };
    let mut value = Vec::with_capacity(raw.len());
    text::unescape(raw, &mut value).map_err(|r| RdataError::new(label(key), r))?;
    Ok((key, Some(value)))
}

/// A key's number from its name or `keyNNNNN` (names are lowercase, as RFC 9460 §2.1
/// spells them).
fn key_number(name: &str) -> Result<u16, &'static str> {
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Ok(i as u16);
    }
    match name.strip_prefix("key") {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
            d.parse().map_err(|_| "key number above 65535")
        }
        _ => Err("unknown key"),
    }
}

/// The wire value of `key` from its decoded presentation value.
fn value_wire(key: u16, value: Option<Vec<u8>>) -> Result<Vec<u8>, RdataError> {
    let err = |reason: &'static str| RdataError::new(label(key), reason);
    if key == NO_DEFAULT_ALPN {
        return match value {
            None => Ok(Vec::new()),
            Some(_) => Err(err("takes no value")),
        };
    }
    if key > DOHPATH {
        return Ok(value.unwrap_or_default());
    }
    let value = value.ok_or_else(|| err("expected a value (key=value)"))?;
    match key {
        MANDATORY => mandatory_wire(&value),
        ALPN => alpn_wire(&value).map_err(err),
        PORT => port_wire(&value).map_err(err),
        IPV4HINT => hints_wire::<Ipv4Addr, 4>(&value, |a| a.octets()).map_err(err),
        IPV6HINT => hints_wire::<Ipv6Addr, 16>(&value, |a| a.octets()).map_err(err),
        ECH => ech_wire(&value).map_err(err),
        _ => dohpath_wire(value).map_err(err),
    }
}

/// Split a value-list into its items (RFC 9460 Appendix A.1): `,` separates, `\,` and
/// `\\` stand for themselves, and no item is empty.
fn split_list(value: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut items = Vec::new();
    let mut item = Vec::new();
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b',' => items.push(std::mem::take(&mut item)),
            b'\\' => match bytes.next() {
                Some(&e @ (b',' | b'\\')) => item.push(e),
                _ => return Err("in a list, a backslash escapes only `,` or `\\`"),
            },
            _ => item.push(b),
        }
    }
    items.push(item);
    if items.iter().any(Vec::is_empty) {
        return Err("empty item in a comma-separated list");
    }
    Ok(items)
}

/// The list's items as text (keys, addresses and numbers are ASCII).
fn split_text(value: &[u8]) -> Result<Vec<String>, &'static str> {
    split_list(value)?.into_iter().map(|item| String::from_utf8(item).map_err(|_| "not text")).collect()
}

/// `mandatory`: key names, none twice and not `mandatory` itself, sorted (§8).
fn mandatory_wire(value: &[u8]) -> Result<Vec<u8>, RdataError> {
    let err = |reason: String| RdataError::new("mandatory", reason);
    let mut keys = Vec::new();
    for name in split_text(value).map_err(|r| err(r.to_string()))? {
        let key = key_number(&name).map_err(|r| err(format!("{r}: `{name}`")))?;
        if key == MANDATORY {
            return Err(err("may not list `mandatory` itself".to_string()));
        }
        if keys.contains(&key) {
            return Err(err(format!("lists `{name}` twice")));
        }
        keys.push(key);
    }
    keys.sort_unstable();
    Ok(keys.iter().flat_map(|k| k.to_be_bytes()).collect())
}

/// `alpn`: each id after a length byte (§7.1.1).
fn alpn_wire(value: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut wire = Vec::with_capacity(value.len() + 1);
    for id in split_list(value)? {
        let len = u8::try_from(id.len()).map_err(|_| "ALPN id longer than 255 bytes")?;
        wire.push(len);
        wire.extend_from_slice(&id);
    }
    Ok(wire)
}

/// `port`: a decimal number 0-65535 (§7.2).
fn port_wire(value: &[u8]) -> Result<Vec<u8>, &'static str> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err("expected a port number 0-65535");
    }
    let port: u16 = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()).ok_or("port above 65535")?;
    Ok(port.to_be_bytes().to_vec())
}

/// `ipv4hint` and `ipv6hint`: addresses of one family (§7.3).
fn hints_wire<A: std::str::FromStr, const N: usize>(
    value: &[u8],
    octets: impl Fn(A) -> [u8; N],
) -> Result<Vec<u8>, &'static str> {
    let bad = if N == 4 { "expected IPv4 addresses" } else { "expected IPv6 addresses" };
    let mut wire = Vec::new();
    for item in split_text(value)? {
        wire.extend_from_slice(&octets(item.parse().map_err(|_| bad)?));
    }
    Ok(wire)
}

/// `ech`: an ECHConfigList in base64 (§7.3 of RFC 9460 names the key; its value is
/// opaque here).
fn ech_wire(value: &[u8]) -> Result<Vec<u8>, &'static str> {
    let b64 = std::str::from_utf8(value).map_err(|_| "expected base64")?;
    let mut wire = Vec::new();
    text::base64_into(b64, &mut wire)?;
    if wire.is_empty() {
        return Err("expected base64, found nothing");
    }
    Ok(wire)
}

/// `dohpath`: a URI template, UTF-8 (RFC 9461 §5).
fn dohpath_wire(value: Vec<u8>) -> Result<Vec<u8>, &'static str> {
    if value.is_empty() {
        return Err("expected a URI template");
    }
    String::from_utf8(value).map(String::into_bytes).map_err(|_| "not UTF-8")
}

/// Every key `mandatory` lists is in `params` (§8); `params` is sorted by key.
fn check_mandatory(params: &[(u16, &[u8])]) -> Result<(), RdataError> {
    let Some((_, list)) = params.iter().find(|(k, _)| *k == MANDATORY) else {
        return Ok(());
    };
    for pair in list.chunks_exact(2) {
        let key = u16::from_be_bytes([pair[0], pair[1]]);
        if !params.iter().any(|(k, _)| *k == key) {
            return Err(RdataError::new("mandatory", format!("lists `{}`, which is not in the record", key_name(key))));
        }
    }
    Ok(())
}

/// A key as Knot writes it: its name, or `keyNNNNN`.
fn key_name(key: u16) -> String {
    match NAMES.get(usize::from(key)) {
        Some(name) => (*name).to_string(),
        None => format!("key{key}"),
    }
}

/// Show the parameters left in `r`, in wire order, separated by one space.
pub fn format(r: &mut Reader<'_>, out: &mut String) -> Result<(), RdataError> {
    let mut params: Vec<(u16, &[u8])> = Vec::new();
    while !r.is_empty() {
        let key = r.u16("parameters")?;
        let len = usize::from(r.u16(label(key))?);
        let value = r.bytes(len, label(key))?;
        if params.last().is_some_and(|(last, _)| *last >= key) {
            return Err(RdataError::new(label(key), "keys out of order or repeated"));
        }
        params.push((key, value));
    }
    check_mandatory(&params)?;
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_param(out, *key, value).map_err(|r| RdataError::new(label(*key), r))?;
    }
    Ok(())
}

/// One parameter as `key=value`, or a bare key when it has no value.
fn push_param(out: &mut String, key: u16, value: &[u8]) -> Result<(), &'static str> {
    out.push_str(&key_name(key));
    if key == NO_DEFAULT_ALPN {
        return if value.is_empty() { Ok(()) } else { Err("takes no value") };
    }
    if key > DOHPATH && value.is_empty() {
        return Ok(());
    }
    out.push('=');
    match key {
        MANDATORY => push_mandatory(out, value),
        ALPN => push_alpn(out, value),
        PORT => match value {
            [hi, lo] => {
                let _ = write!(out, "{}", u16::from_be_bytes([*hi, *lo]));
                Ok(())
            }
            _ => Err("a port is two bytes"),
        },
        IPV4HINT => push_hints::<4>(out, value, |b| Ipv4Addr::from(b).to_string()),
        IPV6HINT => push_hints::<16>(out, value, |b| Ipv6Addr::from(b).to_string()),
        ECH if value.is_empty() => Err("empty ECHConfigList"),
        ECH => {
            text::push_base64(out, value);
            Ok(())
        }
        DOHPATH if value.is_empty() || std::str::from_utf8(value).is_err() => Err("not a URI template"),
        _ => {
            text::push_char_string(out, value);
            Ok(())
        }
    }
}

/// `mandatory=alpn,port`: names in wire order, which must be increasing (§8).
fn push_mandatory(out: &mut String, value: &[u8]) -> Result<(), &'static str> {
    if value.is_empty() || !value.len().is_multiple_of(2) {
        return Err("expected a list of two-byte keys");
    }
    let mut last = None;
    for (i, pair) in value.chunks_exact(2).enumerate() {
        let key = u16::from_be_bytes([pair[0], pair[1]]);
        if key == MANDATORY || last.is_some_and(|l| l >= key) {
            return Err("keys out of order, repeated, or `mandatory` itself");
        }
        last = Some(key);
        if i > 0 {
            out.push(',');
        }
        out.push_str(&key_name(key));
    }
    Ok(())
}

/// `alpn=h2,h3`: ids joined by commas; a comma or backslash inside an id escaped for
/// the list and again for the character-string (`\\,`, `\\\\`), as Appendix A.1 and
/// Knot write them; the whole value quoted when an id holds a space, `;`, `(` or `)`.
fn push_alpn(out: &mut String, value: &[u8]) -> Result<(), &'static str> {
    let mut list = String::with_capacity(value.len() + 2);
    let mut quote = false;
    let mut rest = value;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        if len == 0 || len > tail.len() {
            return Err("bad ALPN id length");
        }
        let (id, tail) = tail.split_at(len);
        if !list.is_empty() {
            list.push(',');
        }
        for &b in id {
            match b {
                b',' => list.push_str("\\\\,"),
                b'\\' => list.push_str("\\\\\\\\"),
                b'"' => list.push_str("\\\""),
                b' ' | b';' | b'(' | b')' => {
                    quote = true;
                    list.push(char::from(b));
                }
                0x21..=0x7e => list.push(char::from(b)),
                _ => {
                    let _ = write!(list, "\\{b:03}");
                }
            }
        }
        rest = tail;
    }
    if list.is_empty() {
        return Err("no ALPN ids");
    }
    if quote {
        out.push('"');
        out.push_str(&list);
        out.push('"');
    } else {
        out.push_str(&list);
    }
    Ok(())
}

/// `ipv4hint=a,b` / `ipv6hint=a,b`: `N`-byte addresses joined by commas.
fn push_hints<const N: usize>(
    out: &mut String,
    value: &[u8],
    show: impl Fn([u8; N]) -> String,
) -> Result<(), &'static str> {
    if value.is_empty() || !value.len().is_multiple_of(N) {
        return Err("expected a list of addresses");
    }
    for (i, chunk) in value.chunks_exact(N).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut a = [0u8; N];
        a.copy_from_slice(chunk);
        out.push_str(&show(a));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
