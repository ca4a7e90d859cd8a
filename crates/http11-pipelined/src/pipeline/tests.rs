//! Unit tests of the pipelining rules, driven with byte slices and an injected clock: no sockets.

use super::*;
use httplab_core::{RequestRecord, RequestSpec};
use httplab_transport::RequestTiming;

/// The reply handle in these tests: the request's id.
type Pipe = Pipeline<u32>;

impl Reply for u32 {
    /// A job these tests drop unsettled tells nobody.
    fn unsettled(self, _: RequestTiming) {}
}

/// A new TCP connection's setup, its connect instant.
fn tcp_setup() -> Setup {
    Setup {
        tcp_connect: Some(Duration::ZERO),
        tls_handshake: None,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn job(id: u32, method: &str) -> Job<u32> {
    let spec = RequestSpec {
        id,
        method: method.into(),
        path: format!("/r{id}"),
        body_bytes: 0,
        headers: Vec::new(),
        origin: 0,
        authority: None,
        head_bytes: None,
        anonymous: false,
    };
    let url = format!("http://h{}", spec.path);
    Job::new(RequestTiming::new(spec, url, Duration::ZERO), id)
}

/// A pipeline holding `methods` as requests 0, 1, …, on an open connection 0.
fn pipeline(depth: usize, methods: &[&str]) -> Pipe {
    let mut pipe = Pipeline::new("h".into(), depth, Resend::Idempotent);
    for (id, method) in (0..).zip(methods) {
        pipe.push(job(id, method));
    }
    pipe.open(0, tcp_setup());
    pipe
}

/// Commits what the rules allow and writes all of it, each write from `at` to `at` + 1ms;
/// returns the request targets written, in order.
fn write_all(pipe: &mut Pipe, at: Duration) -> Vec<String> {
    assert_eq!(pipe.poll(), None);
    let mut bytes = Vec::new();
    loop {
        let chunk = pipe.next_write().to_vec();
        if chunk.is_empty() {
            break;
        }
        pipe.wrote(chunk.len(), at, at + ms(1));
        bytes.extend(chunk);
    }
    targets(&bytes)
}

/// The targets of the request lines in `bytes`.
fn targets(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split("\r\n")
        .filter(|line| line.ends_with(" HTTP/1.1"))
        .filter_map(|line| line.split(' ').nth(1).map(str::to_owned))
        .collect()
}

fn response(id: u32) -> String {
    let body = format!("response to {id}");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The settled requests since the last call: the id, and the record or the error.
fn settled(pipe: &mut Pipe) -> Vec<(u32, Result<RequestRecord, String>)> {
    pipe.take_outcomes()
        .map(|outcome| match outcome {
            Outcome::Answered { reply, record } => (reply, Ok(record)),
            Outcome::Failed { reply, error, .. } => (reply, Err(error)),
        })
        .collect()
}

/// The ids of the requests answered since the last call; panics on a failure.
fn answered(pipe: &mut Pipe) -> Vec<u32> {
    settled(pipe)
        .into_iter()
        .map(|(id, result)| match result {
            Ok(record) => {
                assert_eq!((record.id, record.status, record.error), (id, 200, None));
                id
            }
            Err(e) => panic!("request {id} failed: {e}"),
        })
        .collect()
}

#[test]
fn depth_holds_requests_back_until_a_response_completes() {
    let mut pipe = pipeline(2, &["GET", "GET", "GET", "GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0", "/r1"]);
    // All of the first response but its last byte: still two unanswered.
    let first = response(0);
    let (head, last) = first.as_bytes().split_at(first.len() - 1);
    assert_eq!(pipe.read(head, ms(5)), None);
    assert!(answered(&mut pipe).is_empty());
    assert!(write_all(&mut pipe, ms(6)).is_empty());
    assert_eq!(pipe.read(last, ms(7)), None);
    assert_eq!(answered(&mut pipe), [0]);
    assert_eq!(write_all(&mut pipe, ms(8)), ["/r2"]);
    assert!(write_all(&mut pipe, ms(9)).is_empty());
    let rest = [1, 2].map(response).concat();
    assert_eq!(pipe.read(rest.as_bytes(), ms(10)), None);
    assert_eq!(answered(&mut pipe), [1, 2]);
    assert_eq!(write_all(&mut pipe, ms(11)), ["/r3"]);
    assert_eq!(pipe.read(response(3).as_bytes(), ms(12)), None);
    assert_eq!(answered(&mut pipe), [3]);
    assert_eq!(pipe.poll(), None, "more requests may come");
    pipe.no_more_jobs();
    assert_eq!(
        pipe.poll(),
        Some(Ended::new(End::WorkloadDone, CloseReason::WorkloadDone))
    );
}

#[test]
fn a_post_waits_for_an_idle_connection_and_blocks_what_is_behind_it() {
    let mut pipe = pipeline(usize::MAX, &["GET", "POST", "GET", "GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0"]);
    assert_eq!(pipe.read(response(0).as_bytes(), ms(2)), None);
    assert_eq!(answered(&mut pipe), [0]);
    // Alone on the connection, and nothing behind it until it is answered.
    assert_eq!(write_all(&mut pipe, ms(3)), ["/r1"]);
    assert!(write_all(&mut pipe, ms(4)).is_empty());
    assert_eq!(pipe.read(response(1).as_bytes(), ms(5)), None);
    assert_eq!(answered(&mut pipe), [1]);
    assert_eq!(write_all(&mut pipe, ms(6)), ["/r2", "/r3"]);
}

/// Responses to requests 0, 1 (chunked) and 2 back to back, and each one's `start..end`.
fn three_responses() -> (Vec<u8>, Vec<(u64, u64)>) {
    let parts = [
        response(0),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_owned(),
        response(2),
    ];
    let mut spans = Vec::new();
    let mut start = 0;
    for part in &parts {
        spans.push((start, start + part.len() as u64));
        start += part.len() as u64;
    }
    (parts.concat().into_bytes(), spans)
}

/// When request `record`'s first and last response bytes were read.
fn read_times(record: &RequestRecord) -> (Duration, Duration) {
    let last_read = record.ended_at();
    (last_read - record.phases.receive, last_read)
}

#[test]
fn responses_split_at_every_byte_answer_in_order_with_their_read_times() {
    let (stream, spans) = three_responses();
    for split in 1..stream.len() {
        let mut pipe = pipeline(usize::MAX, &["GET", "GET", "GET"]);
        write_all(&mut pipe, ms(1));
        assert_eq!(pipe.read(&stream[..split], ms(10)), None);
        assert_eq!(pipe.read(&stream[split..], ms(20)), None);
        let got = settled(&mut pipe);
        assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [0, 1, 2]);
        for ((id, result), (start, end)) in got.into_iter().zip(&spans) {
            let record = result.unwrap_or_else(|e| panic!("split {split}, {id}: {e}"));
            let time_of = |offset: u64| {
                if offset < split as u64 {
                    ms(10)
                } else {
                    ms(20)
                }
            };
            assert_eq!(
                read_times(&record),
                (time_of(*start), time_of(end - 1)),
                "split at {split}, request {id}"
            );
            assert_eq!(
                record.response_header_bytes + record.response_body_bytes,
                end - start
            );
        }
    }
}

#[test]
fn responses_read_byte_by_byte_take_the_time_of_their_first_and_last_byte() {
    let (stream, spans) = three_responses();
    let mut pipe = pipeline(usize::MAX, &["GET", "GET", "GET"]);
    write_all(&mut pipe, ms(1));
    for (at, byte) in (100..).zip(&stream) {
        assert_eq!(pipe.read(std::slice::from_ref(byte), ms(at)), None);
    }
    let got = settled(&mut pipe);
    assert_eq!(got.len(), 3);
    for ((id, result), (start, end)) in got.into_iter().zip(&spans) {
        let record = result.unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            read_times(&record),
            (ms(100 + start), ms(100 + end - 1)),
            "{id}"
        );
    }
}

#[test]
fn eof_requeues_unanswered_gets_and_marks_a_retry_when_they_were_written() {
    let mut pipe = pipeline(usize::MAX, &["GET", "GET", "GET"]);
    assert_eq!(pipe.poll(), None);
    // Request 0 whole and a few bytes of request 1: request 2 never left.
    let first = pipe.next_write().to_vec();
    let end_of_first = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    pipe.wrote(end_of_first + 3, ms(1), ms(2));
    assert_eq!(pipe.read(response(0).as_bytes(), ms(3)), None);
    assert_eq!(answered(&mut pipe), [0]);
    assert_eq!(
        pipe.eof(),
        Some(Ended::new(End::Unexpected, CloseReason::ServerClosed))
    );
    assert!(settled(&mut pipe).is_empty() && pipe.has_queued());

    pipe.open(1, tcp_setup());
    assert_eq!(write_all(&mut pipe, ms(4)), ["/r1", "/r2"]);
    let rest = [1, 2].map(response).concat();
    assert_eq!(pipe.read(rest.as_bytes(), ms(5)), None);
    let got = settled(&mut pipe);
    let retries: Vec<_> = got
        .iter()
        .map(|(id, r)| {
            let r = r.as_ref().unwrap();
            (*id, r.retries, r.connection, r.opened_connection())
        })
        .collect();
    assert_eq!(retries, [(1, 1, Some(1), true), (2, 0, Some(1), false)]);
    // Nothing in flight: the end of the stream is orderly.
    assert_eq!(
        pipe.eof(),
        Some(Ended::new(End::Orderly, CloseReason::ServerClosed))
    );
}

#[test]
fn eof_fails_a_written_post_and_keeps_the_requests_behind_it() {
    let mut pipe = pipeline(usize::MAX, &["POST", "GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0"]);
    assert_eq!(
        pipe.eof(),
        Some(Ended::new(End::Unexpected, CloseReason::ServerClosed))
    );
    let got = settled(&mut pipe);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0],
        (
            0,
            Err(
                "the connection closed before the response and the request was not retried: \
                 POST is not idempotent (RFC 9110 §9.2.2)"
                    .to_owned()
            )
        )
    );
    assert!(pipe.has_queued());
    pipe.open(1, tcp_setup());
    assert_eq!(write_all(&mut pipe, ms(2)), ["/r1"]);
}

#[test]
fn a_response_delimited_by_the_end_of_the_stream_ends_it_in_order() {
    let mut pipe = pipeline(usize::MAX, &["GET"]);
    write_all(&mut pipe, ms(1));
    assert_eq!(pipe.read(b"HTTP/1.1 200 OK\r\n\r\nto the end", ms(2)), None);
    assert!(answered(&mut pipe).is_empty());
    assert_eq!(
        pipe.eof(),
        Some(Ended::new(End::Orderly, CloseReason::AfterResponse))
    );
    assert_eq!(answered(&mut pipe), [0]);
}

#[test]
fn a_malformed_response_fails_every_outstanding_request() {
    let mut pipe = pipeline(usize::MAX, &["GET", "GET", "GET"]);
    write_all(&mut pipe, ms(1));
    let bytes = format!(
        "{}HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        response(0)
    );
    let Some(Ended { end, close_reason }) = pipe.read(bytes.as_bytes(), ms(2)) else {
        panic!("the connection goes on after a malformed response");
    };
    let CloseReason::Error(error) = close_reason else {
        panic!("close reason {close_reason:?}");
    };
    assert_eq!(end, End::Unexpected);
    assert!(error.contains("invalid content-length \"abc\""), "{error}");
    let got = settled(&mut pipe);
    assert!(matches!(&got[0], (0, Ok(r)) if r.status == 200));
    assert_eq!(
        got[1..],
        [
            (
                1,
                Err(format!("malformed response on connection 0: {error}"))
            ),
            (
                2,
                Err(format!(
                    "no response: an earlier response on connection 0 was malformed: {error}"
                ))
            ),
        ]
    );
    assert!(!pipe.has_queued());
}

#[test]
fn connection_close_requeues_the_rest() {
    let mut pipe = pipeline(usize::MAX, &["GET", "GET", "GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0", "/r1", "/r2"]);
    let closing = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(
        pipe.read(closing.as_bytes(), ms(2)),
        Some(Ended::new(End::Orderly, CloseReason::AfterResponse))
    );
    assert_eq!(answered(&mut pipe), [0]);
    pipe.open(1, tcp_setup());
    assert_eq!(write_all(&mut pipe, ms(3)), ["/r1", "/r2"]);
    let rest = [1, 2].map(response).concat();
    assert_eq!(pipe.read(rest.as_bytes(), ms(4)), None);
    let got = settled(&mut pipe);
    assert!(got
        .iter()
        .all(|(_, r)| r.as_ref().is_ok_and(|r| r.retries == 1)));
}

#[test]
fn a_failed_write_stops_writing_and_ends_once_nothing_is_in_flight() {
    let mut pipe = pipeline(1, &["GET", "GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0"]);
    pipe.wrote(0, ms(2), ms(2));
    assert!(!pipe.writable() && pipe.next_write().is_empty());
    assert_eq!(pipe.read(response(0).as_bytes(), ms(3)), None);
    assert_eq!(answered(&mut pipe), [0]);
    let error = "write: the stream accepted no bytes".to_owned();
    assert_eq!(
        pipe.poll(),
        Some(Ended::new(End::Unexpected, CloseReason::Error(error)))
    );
    assert!(pipe.has_queued(), "request 1 waits for the next connection");
}

#[test]
fn a_request_that_cannot_be_encoded_fails_alone() {
    let mut pipe = Pipeline::new("h".into(), usize::MAX, Resend::Idempotent);
    pipe.push(job(0, "GET"));
    let mut bad = job(1, "GET");
    bad.timing.spec.path = "/a b".into();
    pipe.push(bad);
    pipe.push(job(2, "GET"));
    pipe.open(0, tcp_setup());
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0", "/r2"]);
    let got = settled(&mut pipe);
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], (1, Err(e)) if e.contains("request target")));
}

/// A keep-alive slot's pipeline (one request deep, a browser's resend rule) holding `methods`,
/// on an open connection 0.
fn keep_alive(methods: &[&str]) -> Pipe {
    let mut pipe = Pipeline::new("h".into(), 1, Resend::ReusedOnce);
    for (id, method) in (0..).zip(methods) {
        pipe.push(job(id, method));
    }
    pipe.open(0, tcp_setup());
    pipe
}

#[test]
fn keep_alive_resends_a_get_only_when_its_connection_was_reused() {
    let mut pipe = keep_alive(&["GET", "GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0"]);
    assert!(write_all(&mut pipe, ms(2)).is_empty(), "one at a time");
    assert_eq!(pipe.read(response(0).as_bytes(), ms(2)), None);
    assert_eq!(answered(&mut pipe), [0]);
    // Request 1 goes out on the reused connection, which ends before its response: re-sent.
    assert_eq!(write_all(&mut pipe, ms(3)), ["/r1"]);
    let closed = Some(Ended::new(End::Unexpected, CloseReason::ServerClosed));
    assert_eq!(pipe.eof(), closed);
    assert!(settled(&mut pipe).is_empty() && pipe.has_queued());
    // The same on a fresh connection is the server's answer: it fails, its time since it was
    // written (5 ms, when the write returned) until the failure (9 ms) waiting.
    pipe.open(1, tcp_setup());
    assert_eq!(write_all(&mut pipe, ms(4)), ["/r1"]);
    assert_eq!(pipe.eof(), closed);
    let mut outcomes: Vec<_> = pipe.take_outcomes().collect();
    assert_eq!(outcomes.len(), 1);
    let (id, record) = outcomes.remove(0).into_record(ms(9));
    assert_eq!((id, record.retries, record.connection), (1, 1, Some(1)));
    let error = record.error.unwrap_or_default();
    assert!(error.contains("first request on connection 1"), "{error}");
    assert_eq!((record.phases.blocked, record.phases.wait), (ms(4), ms(4)));
    assert!(!pipe.has_queued());
}

#[test]
fn keep_alive_never_resends_a_post() {
    let mut pipe = keep_alive(&["GET", "POST"]);
    write_all(&mut pipe, ms(1));
    assert_eq!(pipe.read(response(0).as_bytes(), ms(2)), None);
    assert_eq!(answered(&mut pipe), [0]);
    assert_eq!(write_all(&mut pipe, ms(3)), ["/r1"]);
    pipe.eof();
    let got = settled(&mut pipe);
    let error = got[0].1.as_ref().unwrap_err();
    assert!(
        error.ends_with("POST is not idempotent (RFC 9110 §9.2.2)"),
        "{error}"
    );
    assert!(!pipe.has_queued());
}

#[test]
fn a_request_is_encoded_anew_when_it_differs_from_the_one_kept_under_its_id() {
    let mut pipe = keep_alive(&["GET"]);
    assert_eq!(write_all(&mut pipe, ms(1)), ["/r0"]);
    assert_eq!(pipe.read(response(0).as_bytes(), ms(2)), None);
    answered(&mut pipe);
    // The same id again, then with another target (a variant's path): each written as it is.
    pipe.push(job(0, "GET"));
    assert_eq!(write_all(&mut pipe, ms(3)), ["/r0"]);
    assert_eq!(pipe.read(response(0).as_bytes(), ms(4)), None);
    answered(&mut pipe);
    let mut other = job(0, "GET");
    other.timing.spec.path = "/other".into();
    pipe.push(other);
    assert_eq!(write_all(&mut pipe, ms(5)), ["/other"]);
}

/// A reply that notes the requests it was told were dropped unsettled.
struct Noted(std::rc::Rc<std::cell::RefCell<Vec<String>>>);

impl Reply for Noted {
    fn unsettled(self, timing: RequestTiming) {
        self.0.borrow_mut().push(timing.spec.path);
    }
}

#[test]
fn a_job_dropped_unsettled_settles_itself_with_its_request() {
    let told = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let with = |id| {
        let Job { timing, .. } = &job(id, "GET");
        Job::new(timing.clone(), Noted(told.clone()))
    };
    // Taken apart to be settled by its holder: nothing is told.
    let (timing, reply) = with(1).into_parts();
    assert_eq!(timing.spec.path, "/r1");
    drop(reply);
    assert!(told.borrow().is_empty());
    // Dropped whole, as a worker that stops drops what it holds: its reply is told, with the
    // request itself.
    drop(with(2));
    let mut pipe = Pipeline::new("h".into(), 4, Resend::Idempotent);
    pipe.push(with(3));
    drop(pipe);
    assert_eq!(*told.borrow(), ["/r2", "/r3"]);
}
