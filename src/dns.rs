//! The one DNS question the module asks: the TXT records of one name, for
//! the pre-flight before `send_dv_dns` asks the CA to check a record again.
//!
//! One UDP query to one server with one deadline, parsed with every length
//! checked: a resolver crate would bring an async runtime (or its own thread
//! pool) for one packet per customer click, and the answer is only advice —
//! any failure here (timeout, refusal, a truncated or malformed answer) is
//! reported as such and never taken for "not published".
//!
//! The only place that speaks DNS (docs/ARCHITECTURE.md "one door per peer").

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// TXT (RFC 1035 §3.2.2) and IN.
const QTYPE_TXT: u16 = 16;
const QCLASS_IN: u16 = 1;
/// Largest answer read; bigger ones are truncated by the server (TC).
const MAX_ANSWER: usize = 4096;

/// What the server said about the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The TXT strings of every TXT record (each record's strings joined).
    Txt(Vec<String>),
    /// The name does not exist (NXDOMAIN).
    NoName,
}

/// The TXT records of `name` from `server`, within `timeout`. `Err`: no
/// usable answer, in words for the log.
pub fn txt_records(server: SocketAddr, name: &str, timeout: Duration) -> Result<Answer, String> {
    let id = query_id();
    let query = build_query(id, name)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|e| format!("{e}"))?
    } else {
        "[::]:0".parse().map_err(|e| format!("{e}"))?
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(server)
        .map_err(|e| format!("cannot reach DNS server {server}: {e}"))?;
    socket
        .send(&query)
        .map_err(|e| format!("cannot send to DNS server {server}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; MAX_ANSWER];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "DNS server {server} did not answer within {} ms",
                timeout.as_millis()
            ));
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| format!("{e}"))?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(format!("DNS server {server}: {e}")),
        };
        // Another query's late answer: not ours, keep waiting.
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) != id {
            continue;
        }
        return parse_answer(id, &buf[..n]).map_err(|e| format!("DNS server {server}: {e}"));
    }
}

/// A query id that differs between runs (not a secret: the socket is
/// connected to the one server).
fn query_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id()) as u16
}

/// A recursive TXT query for `name`.
pub fn build_query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // 1 question
    let name = name.trim().trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(format!("'{}' is no DNS name", crate::quote::quote(name)));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || !label.is_ascii() {
            return Err(format!("'{}' is no DNS name", crate::quote::quote(name)));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&QTYPE_TXT.to_be_bytes());
    q.extend_from_slice(&QCLASS_IN.to_be_bytes());
    Ok(q)
}

/// Read a big-endian u16 at `at`.
fn u16_at(m: &[u8], at: usize) -> Result<u16, String> {
    m.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "answer cut short".to_string())
}

/// The offset after the (possibly compressed) name at `at`.
fn skip_name(m: &[u8], mut at: usize) -> Result<usize, String> {
    for _ in 0..128 {
        let len = *m.get(at).ok_or("answer cut short")?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xc0 == 0xc0 => return Ok(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
    Err("a name with too many labels".into())
}

/// The answer to query `id`.
pub fn parse_answer(id: u16, m: &[u8]) -> Result<Answer, String> {
    if u16_at(m, 0)? != id {
        return Err("an answer to another question".into());
    }
    let flags = u16_at(m, 2)?;
    if flags & 0x8000 == 0 {
        return Err("not an answer".into());
    }
    if flags & 0x0200 != 0 {
        return Err("the answer was truncated".into());
    }
    match flags & 0x000f {
        0 => {}
        3 => return Ok(Answer::NoName),
        code => return Err(format!("the server refused the question (rcode {code})")),
    }
    let questions = u16_at(m, 4)?;
    let answers = u16_at(m, 6)?;
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(m, at)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        at = skip_name(m, at)?;
        let rtype = u16_at(m, at)?;
        let len = usize::from(u16_at(m, at + 8)?);
        let start = at + 10;
        let data = m.get(start..start + len).ok_or("answer cut short")?;
        at = start + len;
        if rtype != QTYPE_TXT {
            continue; // a CNAME on the way
        }
        let mut text = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let l = usize::from(data[i]);
            let s = data.get(i + 1..i + 1 + l).ok_or("TXT string cut short")?;
            text.extend_from_slice(s);
            i += 1 + l;
        }
        out.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(Answer::Txt(out))
}

/// A server's answer to `query` holding `records` as TXT records (tests
/// serve DNS with it).
pub fn answer_for(query: &[u8], records: &[&str]) -> Vec<u8> {
    let mut m = query.to_vec();
    if m.len() < 12 {
        return m;
    }
    m[2] = 0x81;
    m[3] = 0x80;
    m[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    for r in records {
        m.extend_from_slice(&[0xc0, 0x0c]);
        m.extend_from_slice(&QTYPE_TXT.to_be_bytes());
        m.extend_from_slice(&QCLASS_IN.to_be_bytes());
        m.extend_from_slice(&60u32.to_be_bytes());
        let bytes = &r.as_bytes()[..r.len().min(255)];
        m.extend_from_slice(&((bytes.len() + 1) as u16).to_be_bytes());
        m.push(bytes.len() as u8);
        m.extend_from_slice(bytes);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_and_its_answer_round_trip() {
        let q = build_query(0x1234, "_dv.example.com.").unwrap();
        assert_eq!(&q[..2], &[0x12, 0x34]);
        let a = answer_for(&q, &["v=spf1 -all", "sim-dv-1"]);
        assert_eq!(
            parse_answer(0x1234, &a).unwrap(),
            Answer::Txt(vec!["v=spf1 -all".into(), "sim-dv-1".into()])
        );
        assert_eq!(
            parse_answer(0x1234, &answer_for(&q, &[])).unwrap(),
            Answer::Txt(vec![])
        );
    }

    #[test]
    fn bad_answers_are_errors_never_panics() {
        let q = build_query(7, "example.com").unwrap();
        let a = answer_for(&q, &["x"]);
        for cut in 0..a.len() {
            let _ = parse_answer(7, &a[..cut]);
        }
        assert!(parse_answer(8, &a).is_err(), "another id");
        let mut nx = answer_for(&q, &[]);
        nx[3] = 0x83;
        assert_eq!(parse_answer(7, &nx).unwrap(), Answer::NoName);
        let mut servfail = answer_for(&q, &[]);
        servfail[3] = 0x82;
        assert!(parse_answer(7, &servfail).is_err());
        let mut tc = answer_for(&q, &["x"]);
        tc[2] |= 0x02;
        assert!(parse_answer(7, &tc).is_err());
        assert!(build_query(1, "").is_err());
        assert!(build_query(1, &"a".repeat(64)).is_err());
    }

    #[test]
    fn a_server_that_is_not_there_is_an_error_within_the_timeout() {
        // A port nobody listens on: refused at once, or silent until the deadline.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        drop(socket);
        let started = Instant::now();
        let r = txt_records(addr, "example.com", Duration::from_millis(300));
        assert!(r.is_err(), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
