//! The one DNS question the module asks: the TXT records of one name, for
//! the pre-flight before `send_dv_dns` asks the CA to check a record again.
//!
//! One UDP query to one server with one deadline; the message is encoded and
//! decoded by hickory-proto (every length checked), while the socket and the
//! deadline are ours: a resolver crate would bring an async runtime (or its
//! own thread pool) for one packet per customer click, and the answer is only advice —
//! any failure here (timeout, refusal, a truncated or malformed answer) is
//! reported as such and never taken for "not published".
//!
//! The only place that speaks DNS (docs/ARCHITECTURE.md "one door per peer").

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType};

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
    let id: u16 = rand_id();
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

/// A fresh query id: hickory-proto's random one (it matches answers to
/// questions; the socket is connected to the one server, so it guards
/// against a late answer to an earlier question, not against spoofing).
fn rand_id() -> u16 {
    Message::query().metadata.id
}

/// A recursive TXT query for `name`, with id `id`.
pub fn build_query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let name = dns_name(name)?;
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name, RecordType::TXT));
    m.to_vec()
        .map_err(|e| format!("cannot encode the DNS question: {e}"))
}

/// `text` as a DNS name, refused in words when it cannot be one.
fn dns_name(text: &str) -> Result<Name, String> {
    let bare = text.trim().trim_end_matches('.');
    let refuse = || format!("'{}' is no DNS name", crate::quote::quote(bare));
    let labels_ok = !bare.is_empty()
        && bare.len() <= 253
        && bare
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.is_ascii());
    if !labels_ok {
        return Err(refuse());
    }
    let mut name = Name::from_ascii(bare).map_err(|_| refuse())?;
    name.set_fqdn(true);
    Ok(name)
}

/// The answer to query `id`. Decoding is hickory-proto's, which checks
/// every length; only the answer's meaning is read here.
pub fn parse_answer(id: u16, m: &[u8]) -> Result<Answer, String> {
    let message = Message::from_vec(m).map_err(|e| format!("not a DNS answer: {e}"))?;
    let meta = &message.metadata;
    if meta.id != id {
        return Err("an answer to another question".into());
    }
    if meta.message_type != MessageType::Response {
        return Err("not an answer".into());
    }
    if meta.truncation {
        return Err("the answer was truncated".into());
    }
    match meta.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(Answer::NoName),
        code => return Err(format!("the server refused the question ({code})")),
    }
    let txt = message
        .answers
        .iter()
        // A CNAME on the way is skipped.
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t),
            _ => None,
        })
        .map(|t| {
            let joined: Vec<u8> = t.txt_data.iter().flat_map(|s| s.iter().copied()).collect();
            String::from_utf8_lossy(&joined).into_owned()
        })
        .collect();
    Ok(Answer::Txt(txt))
}

/// A server's answer to `query` holding `records` as TXT records (tests
/// serve DNS with it). An undecodable query gets an empty answer.
pub fn answer_for(query: &[u8], records: &[&str]) -> Vec<u8> {
    let Ok(q) = Message::from_vec(query) else {
        return Vec::new();
    };
    let mut m = Message::response(q.metadata.id, q.metadata.op_code);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    for question in &q.queries {
        m.add_query(question.clone());
    }
    let name = q
        .queries
        .first()
        .map(|q| q.name().clone())
        .unwrap_or_default();
    for r in records {
        let text: String = r.chars().take(255).collect();
        m.add_answer(Record::from_rdata(
            name.clone(),
            60,
            RData::TXT(TXT::new(vec![text])),
        ));
    }
    m.to_vec().unwrap_or_default()
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
