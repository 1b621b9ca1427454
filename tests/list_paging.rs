//! The certificate list read page by page against a scripted upstream: a
//! loopback HTTP server that answers each `func=certificate` call from the
//! page number the client asked for. The simulator pages one well-behaved
//! way; live panels may cap the page size without saying so, count rows
//! differently from what they list, ignore `p_num`, change the list while it
//! is read, or never end (field evidence §5). A partial list taken for the
//! whole makes an order lookup answer "not ordered" and pay again, so each
//! of these is read to its end or refused.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pmsslreseller::config::UpstreamConfig;
use pmsslreseller::secret::Secret;
use pmsslreseller::upstream::{Client, Connection, UpstreamError};

/// One list answer: the rows `ids` and, when given, the total `<p_elems>`.
fn page(ids: &[u64], total: Option<u64>) -> String {
    let mut body = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>");
    for id in ids {
        body.push_str(&format!(
            "<elem><id>{id}</id><CN>c{id}.example.com</CN><status>2</status></elem>"
        ));
    }
    if let Some(t) = total {
        body.push_str(&format!("<p_elems>{t}</p_elems>"));
    }
    body.push_str("</doc>");
    body
}

/// The form fields of a request body.
fn fields(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// Reads one request; its body.
fn read_request(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf) else {
            return String::new();
        };
        if n == 0 {
            return String::new();
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return text[head_end + 4..].to_string();
            }
        }
    }
}

/// An upstream whose list call number `n` (from 0) for page `p_num` is
/// answered by `answer(n, p_num)`; every call is counted.
struct Scripted {
    url: String,
    calls: Arc<AtomicUsize>,
}

fn scripted(answer: impl Fn(usize, u32) -> String + Send + Sync + 'static) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(1000) {
            let Ok(mut stream) = stream else { continue };
            let body = read_request(&mut stream);
            let f = fields(&body);
            let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            assert_eq!(get("func").as_deref(), Some("certificate"));
            let p_num = get("p_num").and_then(|v| v.parse().ok()).unwrap_or(1);
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let text = answer(n, p_num);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                text.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(text.as_bytes());
            let _ = stream.flush();
        }
    });
    Scripted {
        url: format!("http://{addr}/billmgr"),
        calls,
    }
}

fn client(url: &str) -> Client {
    Client::new(
        &Connection {
            url: url.to_string(),
            username: "reseller@example.com".into(),
            password: Secret::new("list-paging-Pa55"),
        },
        &UpstreamConfig::default(),
    )
    .unwrap()
}

fn ids(rows: &[pmsslreseller::upstream::CertSummary]) -> Vec<u64> {
    rows.iter().map(|r| r.id).collect()
}

/// Page `p` (from 1) of `all` at `size` rows a page.
fn slice(all: &[u64], size: usize, p: u32) -> Vec<u64> {
    all.iter()
        .copied()
        .skip((p as usize - 1) * size)
        .take(size)
        .collect()
}

const ALL: &[u64] = &[101, 102, 103, 104, 105];

/// A panel that cuts `p_cnt` to 2 and sends no total: short pages are not
/// the end, an empty one is.
#[test]
fn a_silent_page_cap_is_read_to_the_empty_page() {
    let up = scripted(|_, p| page(&slice(ALL, 2, p), None));
    let rows = client(&up.url).certificate_list().unwrap();
    assert_eq!(ids(&rows), ALL);
    assert_eq!(
        up.calls.load(Ordering::SeqCst),
        4,
        "3 pages and the empty one"
    );
}

/// A total lower than what is listed (`0`, or a count without some rows)
/// does not cut the list.
#[test]
fn a_total_lower_than_the_rows_does_not_end_the_list() {
    for total in [0, 1, 3] {
        let up = scripted(move |_, p| page(&slice(ALL, 2, p), Some(total)));
        let rows = client(&up.url).certificate_list().unwrap();
        assert_eq!(ids(&rows), ALL, "p_elems {total}");
    }
}

/// A panel that ignores `p_num`: page 2 repeats page 1. With a total, or
/// without one, the list cannot be read to its end: an error, never the
/// first page for the whole.
#[test]
fn a_panel_that_ignores_p_num_gives_an_error_not_a_short_list() {
    for total in [Some(5), None] {
        let up = scripted(move |_, _| page(&slice(ALL, 2, 1), total));
        match client(&up.url).certificate_list() {
            Err(UpstreamError::IncompleteList { read, total: t, .. }) => {
                assert_eq!(read, 2);
                assert_eq!(t, total);
            }
            other => panic!("total {total:?}: {other:?}"),
        }
    }
}

/// An empty page before the total: incomplete.
#[test]
fn an_empty_page_before_the_total_is_an_error() {
    let up = scripted(|_, p| page(&if p == 1 { slice(ALL, 2, 1) } else { vec![] }, Some(5)));
    assert!(matches!(
        client(&up.url).certificate_list(),
        Err(UpstreamError::IncompleteList {
            read: 2,
            total: Some(5),
            ..
        })
    ));
}

/// A row deleted between two pages shifts the rest: the total changes and
/// the list is read again, whole.
#[test]
fn a_list_that_changes_while_read_is_read_again() {
    let up = scripted(|n, p| {
        // First read: page 1 of the five; then one is deleted.
        if n == 0 {
            page(&slice(ALL, 2, p), Some(5))
        } else {
            let left: Vec<u64> = ALL.iter().copied().filter(|id| *id != 101).collect();
            page(&slice(&left, 2, p), Some(4))
        }
    });
    let rows = client(&up.url).certificate_list().unwrap();
    assert_eq!(ids(&rows), vec![102, 103, 104, 105]);
    // A list that never holds still is refused after three reads.
    let restless = scripted(|n, p| page(&slice(ALL, 2, p), Some(5 + n as u64)));
    assert!(matches!(
        client(&restless.url).certificate_list(),
        Err(UpstreamError::IncompleteList { total: None, .. })
    ));
    assert!(restless.calls.load(Ordering::SeqCst) <= 6);
}

/// A panel that invents rows for ever: the read stops after a bounded
/// number of pages with an error.
#[test]
fn a_list_without_end_is_bounded() {
    let up = scripted(|_, p| {
        let first = u64::from(p) * 10;
        page(&[first, first + 1], None)
    });
    assert!(matches!(
        client(&up.url).certificate_list(),
        Err(UpstreamError::IncompleteList { total: None, .. })
    ));
    let calls = up.calls.load(Ordering::SeqCst);
    assert!(calls <= 200, "{calls} calls");
}
