//! The outbox: consent, quiet hours, retries and delivery status; e-mail to a real SMTP peer
//! and SMS to a real HTTP peer, both running in the test on 127.0.0.1.

use crate::common::*;
use base64::Engine;
use chrono::Duration;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A minimal SMTP server speaking the real protocol (RFC 5321 happy path) that keeps what it
/// receives: (MAIL FROM, RCPT TO list, DATA).
type Received = Arc<Mutex<Vec<(String, Vec<String>, String)>>>;

fn smtp_sink() -> (u16, Received) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    std::thread::spawn(move || {
        for stream in l.incoming().take(10) {
            let Ok(s) = stream else { continue };
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .ok();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(b"220 sink.test ESMTP ready\r\n");
            let (mut from, mut to) = (String::new(), Vec::new());
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.trim_end().to_string();
                let upper = cmd.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    b"250-sink.test\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("MAIL FROM:") {
                    from = cmd[10..].to_string();
                    b"250 2.1.0 OK\r\n"
                } else if upper.starts_with("RCPT TO:") {
                    to.push(cmd[8..].to_string());
                    b"250 2.1.5 OK\r\n"
                } else if upper == "DATA" {
                    let _ = w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n");
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                            break;
                        }
                        data.push_str(&line);
                    }
                    store.lock().unwrap().push((from.clone(), to.clone(), data));
                    b"250 2.0.0 queued as SINK1\r\n"
                } else if upper == "QUIT" {
                    let _ = w.write_all(b"221 2.0.0 bye\r\n");
                    break;
                } else if upper == "RSET" || upper == "NOOP" {
                    b"250 OK\r\n"
                } else {
                    b"502 5.5.2 not implemented\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (port, got)
}

/// An HTTP/1.1 peer answering each request with the next (status, body) of `script` and
/// keeping the request bodies.
fn http_peer(script: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/sms/send",
        l.local_addr().unwrap().port()
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let Some((status, body)) = script.next() else {
                break;
            };
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, len) = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    break (p + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            store
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[head_end..]).to_string());
            let reason = if status == 200 { "OK" } else { "Error" };
            let _ = write!(
                s,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, got)
}

struct NoSms;
impl SmsGateway for NoSms {
    fn send_sms(&self, _: &str, _: &str) -> Result<String, SendError> {
        Err(SendError {
            message: "no sms in this test".into(),
            permanent: true,
        })
    }
}
struct NoMail;
impl EmailSender for NoMail {
    fn send_email(&self, _: &str, _: &str, _: &str) -> Result<String, SendError> {
        Err(SendError {
            message: "no mail in this test".into(),
            permanent: true,
        })
    }
}
/// Counts sends; for the logic tests.
#[derive(Default)]
struct CountingSms(Mutex<Vec<String>>);
impl SmsGateway for CountingSms {
    fn send_sms(&self, to: &str, _: &str) -> Result<String, SendError> {
        let mut v = self.0.lock().unwrap();
        v.push(to.to_string());
        Ok(format!("ref-{}", v.len()))
    }
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn msg(store: &str, customer: &str, template: &str, purpose: Purpose) -> NewMessage {
    NewMessage {
        store_id: store.into(),
        customer_id: customer.into(),
        purpose,
        template_code: template.into(),
        vars: vars(&[
            ("store", "华通4S店"),
            ("plate", "京A12345"),
            ("date", "2026-05-15"),
            ("store_phone", "010-62345678"),
            ("offer", "保养8折"),
            ("link", "https://example.com/s/1"),
        ]),
        dedupe_key: None,
    }
}

fn consent_decides_what_is_sent(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let t = TemplateSet::standard();
    let now = at(2026, 5, 1, 2); // 10:00 in Beijing
    let yes = {
        let mut n = NewCustomer::individual(&s, "同意", "13900007001");
        n.consents = vec![ConsentInput {
            channel: Channel::Sms,
            granted: true,
            on: day(2026, 1, 1),
            source: "展厅".into(),
        }];
        create_customer(&mut c, &actor(), &all, &n, now).unwrap()
    };
    let silent = customer(&mut c, &s, "未表态", "13900007002");
    let no = {
        let mut n = NewCustomer::individual(&s, "拒绝", "13900007003");
        n.consents = vec![ConsentInput {
            channel: Channel::Sms,
            granted: false,
            on: day(2026, 1, 1),
            source: "电话".into(),
        }];
        create_customer(&mut c, &actor(), &all, &n, now).unwrap()
    };
    let q = |c: &mut dms_db::DbConnection, who: &str, tpl: &str, p: Purpose| {
        enqueue_message(c, &actor(), &all, &t, &msg(&s, who, tpl, p), now).unwrap()
    };
    // Marketing: only with a recorded yes.
    assert!(matches!(
        q(&mut c, &yes.id, "promotion", Purpose::Marketing),
        EnqueueOutcome::Queued(_)
    ));
    match q(&mut c, &silent.id, "promotion", Purpose::Marketing) {
        EnqueueOutcome::Suppressed(m) => assert_eq!(m.last_error.as_deref(), Some("no_consent")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        q(&mut c, &no.id, "promotion", Purpose::Marketing),
        EnqueueOutcome::Suppressed(_)
    ));
    // Service reminders: unless the customer said no.
    assert!(matches!(
        q(&mut c, &silent.id, "insurance_renewal", Purpose::Service),
        EnqueueOutcome::Queued(_)
    ));
    match q(&mut c, &no.id, "insurance_renewal", Purpose::Service) {
        EnqueueOutcome::Suppressed(m) => assert_eq!(m.last_error.as_deref(), Some("opted_out")),
        other => panic!("{other:?}"),
    }
    // E-mail without an address is suppressed, not lost.
    match q(&mut c, &silent.id, "survey_invite", Purpose::Service) {
        EnqueueOutcome::Suppressed(m) => assert_eq!(m.last_error.as_deref(), Some("no_address")),
        other => panic!("{other:?}"),
    }
    // Dedupe.
    let mut m = msg(&s, &silent.id, "maintenance_due", Purpose::Service);
    m.dedupe_key = Some("maintenance_due:v1:2026-05".into());
    let first = match enqueue_message(&mut c, &actor(), &all, &t, &m, now).unwrap() {
        EnqueueOutcome::Queued(m) => m,
        other => panic!("{other:?}"),
    };
    assert!(
        first.body.contains("未表态") && first.body.contains("京A12345"),
        "{}",
        first.body
    );
    assert!(
        matches!(enqueue_message(&mut c, &actor(), &all, &t, &m, now).unwrap(), EnqueueOutcome::AlreadyQueued(x) if x.id == first.id)
    );
    // A missing variable is bad input, nothing queued.
    let mut bad = msg(&s, &silent.id, "insurance_renewal", Purpose::Service);
    bad.vars.remove("plate");
    assert!(matches!(
        enqueue_message(&mut c, &actor(), &all, &t, &bad, now),
        Err(CrmError::Invalid { field: "vars", .. })
    ));
    // Only the three queued ones are sent.
    let sms = CountingSms::default();
    let rep = deliver_due_messages(&mut c, &OutboxPolicy::default(), &sms, &NoMail, now).unwrap();
    assert_eq!(rep.sent, 3);
    let mut to = sms.0.lock().unwrap().clone();
    to.sort();
    assert_eq!(to, vec!["13900007001", "13900007002", "13900007002"]);
    assert_eq!(
        deliver_due_messages(&mut c, &OutboxPolicy::default(), &sms, &NoMail, now).unwrap(),
        DeliveryReport::default()
    );
    let st = message_stats(&mut c, &all, day(2026, 5, 1), day(2026, 6, 1)).unwrap();
    assert_eq!(
        st["promotion"],
        MessageStats {
            sent: 1,
            suppressed: 2,
            ..Default::default()
        }
    );
    assert_eq!(
        st["insurance_renewal"],
        MessageStats {
            sent: 1,
            suppressed: 1,
            ..Default::default()
        }
    );
    assert_eq!(st["maintenance_due"].sent, 1);
    assert_eq!(st["survey_invite"].suppressed, 1);
}

fn quiet_hours_hold_messages(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &s, "夜猫子", "13900008001");
    let t = TemplateSet::standard();
    let evening = at(2026, 5, 1, 14); // 22:00 in Beijing
    enqueue_message(
        &mut c,
        &actor(),
        &all,
        &t,
        &msg(&s, &a.id, "birthday", Purpose::Service),
        evening,
    )
    .unwrap();
    let sms = CountingSms::default();
    let p = OutboxPolicy::default();
    let rep = deliver_due_messages(&mut c, &p, &sms, &NoMail, evening).unwrap();
    assert_eq!(
        rep,
        DeliveryReport {
            deferred: 1,
            ..Default::default()
        }
    );
    let rep = deliver_due_messages(
        &mut c,
        &p,
        &sms,
        &NoMail,
        at(2026, 5, 1, 23) + Duration::minutes(59),
    )
    .unwrap();
    assert_eq!(rep.deferred, 1, "07:59 in Beijing");
    let rep = deliver_due_messages(
        &mut c,
        &p,
        &sms,
        &NoMail,
        at(2026, 5, 2, 0) + Duration::minutes(30),
    )
    .unwrap();
    assert_eq!(rep.sent, 1, "08:30 in Beijing");
}

fn sms_retries_against_http_peer_that_fails_first(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &s, "王先生", "13900009001");
    let t = TemplateSet::standard();
    let t0 = at(2026, 5, 1, 2);
    let m = match enqueue_message(
        &mut c,
        &actor(),
        &all,
        &t,
        &msg(&s, &a.id, "insurance_renewal", Purpose::Service),
        t0,
    )
    .unwrap()
    {
        EnqueueOutcome::Queued(m) => m,
        other => panic!("{other:?}"),
    };
    let (url, bodies) = http_peer(vec![(503, "{}"), (200, r#"{"id":"gw-7781"}"#)]);
    let gw = HttpSmsGateway::new(
        &url,
        Some("k-test".into()),
        "华通4S店",
        std::time::Duration::from_secs(5),
    );
    let p = OutboxPolicy::default();
    let rep = deliver_due_messages(&mut c, &p, &gw, &NoMail, t0).unwrap();
    assert_eq!(
        rep,
        DeliveryReport {
            retried: 1,
            ..Default::default()
        }
    );
    let after1 = get_message(&mut c, &all, &m.id).unwrap();
    assert_eq!(after1.status, "pending");
    assert_eq!(after1.attempts, 1);
    assert!(after1.last_error.as_deref().unwrap().contains("503"));
    // Back-off: not before a minute has passed.
    assert_eq!(
        deliver_due_messages(&mut c, &p, &gw, &NoMail, t0 + Duration::seconds(30)).unwrap(),
        DeliveryReport::default()
    );
    let rep = deliver_due_messages(&mut c, &p, &gw, &NoMail, t0 + Duration::seconds(61)).unwrap();
    assert_eq!(rep.sent, 1);
    let sent = get_message(&mut c, &all, &m.id).unwrap();
    assert_eq!(sent.status, "sent");
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.provider_ref.as_deref(), Some("gw-7781"));
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    let v: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(v["to"], "13900009001");
    assert_eq!(v["sign"], "华通4S店");
    assert!(v["text"]
        .as_str()
        .unwrap()
        .contains("保险将于2026-05-15到期"));
    // The gateway's receipt.
    let (d, changed) = record_delivery_receipt(
        &mut c,
        "gw-7781",
        &ReceiptOutcome::Delivered,
        t0 + Duration::seconds(65),
        t0 + Duration::seconds(70),
    )
    .unwrap();
    assert!(changed);
    assert_eq!(d.status, "delivered");
    assert!(d.delivered_at.is_some());
    // The same receipt twice changes nothing; an unknown reference is not found.
    let (again, changed) = record_delivery_receipt(
        &mut c,
        "gw-7781",
        &ReceiptOutcome::Delivered,
        t0 + Duration::seconds(90),
        t0 + Duration::seconds(90),
    )
    .unwrap();
    assert!(!changed);
    assert_eq!(again.delivered_at, d.delivered_at);
    assert!(matches!(
        record_delivery_receipt(&mut c, "gw-0000", &ReceiptOutcome::Delivered, t0, t0),
        Err(CrmError::NotFound(_))
    ));

    // A refusal (400) is final; a gateway that keeps failing gives up after max_attempts.
    let b = customer(&mut c, &s, "李女士", "13900009002");
    enqueue_message(
        &mut c,
        &actor(),
        &all,
        &t,
        &msg(&s, &b.id, "birthday", Purpose::Service),
        t0,
    )
    .unwrap();
    let (url, _) = http_peer(vec![(400, r#"{"error":"bad number"}"#)]);
    let gw = HttpSmsGateway::new(&url, None, "华通4S店", std::time::Duration::from_secs(5));
    let rep = deliver_due_messages(&mut c, &p, &gw, &NoMail, t0 + Duration::minutes(5)).unwrap();
    assert_eq!(rep.failed, 1);
    let cc = customer(&mut c, &s, "赵先生", "13900009003");
    let m3 = match enqueue_message(
        &mut c,
        &actor(),
        &all,
        &t,
        &msg(&s, &cc.id, "birthday", Purpose::Service),
        t0,
    )
    .unwrap()
    {
        EnqueueOutcome::Queued(m) => m,
        other => panic!("{other:?}"),
    };
    let (url, _) = http_peer(vec![(500, "{}"); 3]);
    let gw = HttpSmsGateway::new(&url, None, "华通4S店", std::time::Duration::from_secs(5));
    let p3 = OutboxPolicy {
        max_attempts: 3,
        ..OutboxPolicy::default()
    };
    let mut when = t0 + Duration::minutes(10);
    for _ in 0..3 {
        deliver_due_messages(&mut c, &p3, &gw, &NoMail, when).unwrap();
        when += Duration::hours(1);
    }
    let m3 = get_message(&mut c, &all, &m3.id).unwrap();
    assert_eq!((m3.status.as_str(), m3.attempts), ("failed", 3));
}

fn email_reaches_a_real_smtp_sink(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let mut n = NewCustomer::individual(&s, "陈小姐", "13900010001");
    n.email = Some("chen@example.com".into());
    let a = create_customer(&mut c, &actor(), &all, &n, at(2026, 5, 1, 1)).unwrap();
    let t = TemplateSet::standard();
    let now = at(2026, 5, 1, 3);
    let m = match enqueue_message(
        &mut c,
        &actor(),
        &all,
        &t,
        &msg(&s, &a.id, "survey_invite", Purpose::Service),
        now,
    )
    .unwrap()
    {
        EnqueueOutcome::Queued(m) => m,
        other => panic!("{other:?}"),
    };
    let (port, got) = smtp_sink();
    let mailer = SmtpEmailSender::new(
        "127.0.0.1",
        port,
        "华通4S店 <service@huatong.example>",
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let rep = deliver_due_messages(&mut c, &OutboxPolicy::default(), &NoSms, &mailer, now).unwrap();
    assert_eq!(
        rep.sent,
        1,
        "{:?}",
        get_message(&mut c, &all, &m.id).unwrap().last_error
    );
    let sent = get_message(&mut c, &all, &m.id).unwrap();
    assert_eq!(sent.status, "delivered", "the relay accepted it");
    assert!(sent.delivered_at.is_some());
    assert!(sent.provider_ref.as_deref().unwrap().contains("SINK1"));
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (from, to, data) = &got[0];
    assert_eq!(from, "<service@huatong.example>");
    assert_eq!(to, &vec!["<chen@example.com>".to_string()]);
    assert!(data.contains("Subject: "));
    // The body is base64: decode it and find the Chinese text.
    let b64: String = data.split("\r\n\r\n").nth(1).unwrap().lines().collect();
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap(),
    )
    .unwrap();
    assert!(
        text.contains("尊敬的陈小姐") && text.contains("https://example.com/s/1"),
        "{text}"
    );
}

dms_db::engine_tests!(
    consent_decides_what_is_sent,
    quiet_hours_hold_messages,
    sms_retries_against_http_peer_that_fails_first,
    email_reaches_a_real_smtp_sink,
);
