//! Plain mode for pipes, scripts and bots: lines from stdin are sent, events are printed to
//! stdout one per line (text or JSON), and the program ends when its input does, once every
//! line it sent has been acknowledged.

use anyhow::Context;
use jsonrpsee::core::ClientError;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::run::ConnectOptions;
use crate::rpc::client::{SUBSCRIPTION_BUFFER, connect_with};
use crate::rpc::types::{Event, EventKind};
use crate::rpc::{ChatApiClient, codes};
use crate::text::{clean_name, clean_text};

/// How one event reads as a line of text, times in local time (`offset_secs` from UTC).
pub fn format_event(event: &Event, offset_secs: i64) -> String {
    let time = super::render::format_time(event.ts, offset_secs, false);
    let who = clean_name(&event.from.name).unwrap_or_else(|| "?".into());
    let text = clean_text(event.text.as_deref().unwrap_or("")).replace('\n', " ");
    match event.kind {
        EventKind::Nick => {
            let old = event.text.as_deref().and_then(clean_name);
            let old = old.unwrap_or_else(|| "?".into());
            format!("{time} -!- {old} is now known as {who}")
        }
        EventKind::Message => format!("{time} <{who}> {text}"),
        EventKind::Action => format!("{time} * {who} {text}"),
        EventKind::Join => format!("{time} -!- {who} joined"),
        EventKind::Leave if text.is_empty() => format!("{time} -!- {who} left"),
        EventKind::Leave => format!("{time} -!- {who} left ({text})"),
        EventKind::System => format!("{time} -!- {who}: {text}"),
    }
}

/// Runs plain mode until stdin ends or says `/exit`.
pub async fn run(options: ConnectOptions, json: bool) -> anyhow::Result<()> {
    let client = connect_with(&options.url, &options.tls, SUBSCRIPTION_BUFFER).await?;
    let joined = client
        .join(options.name.clone(), options.password.clone())
        .await
        .map_err(|err| match &err {
            jsonrpsee::core::ClientError::Call(call)
                if call.code() == crate::rpc::codes::PASSWORD_REQUIRED =>
            {
                anyhow::anyhow!(
                    "this room needs a password: give it with --password-file or CHATROOM_PASSWORD"
                )
            }
            _ => anyhow::Error::new(err).context("cannot join"),
        })?;
    let session = joined.session.clone();
    let mut events = client
        .subscribe_events(session.clone(), Some(joined.last_seq))
        .await
        .context("cannot subscribe")?;
    let offset = i64::from(chrono::Local::now().offset().local_minus_utc());
    let printer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(Ok(event)) = events.next().await {
            let line = if json {
                serde_json::to_string(&event).expect("events serialize")
            } else {
                format_event(&event, offset)
            };
            if out.write_all(format!("{line}\n").as_bytes()).await.is_err()
                || out.flush().await.is_err()
            {
                break;
            }
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        if line.trim().is_empty() {
            continue;
        }
        let (text, action) = match line.strip_prefix('/') {
            Some(escaped) if escaped.starts_with('/') => (escaped.to_owned(), false),
            Some(command) => {
                let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
                match name {
                    "exit" | "quit" => break,
                    "me" => (rest.trim().to_owned(), true),
                    "nick" => {
                        let renamed = client.nick(session.clone(), rest.trim().to_owned()).await;
                        match renamed {
                            Ok(result) => eprintln!("you are now known as {}", result.name),
                            Err(err) => eprintln!("/nick failed: {err}"),
                        }
                        continue;
                    }
                    _ => {
                        eprintln!("unknown command /{name} (//text sends text starting with /)");
                        continue;
                    }
                }
            }
            None => (line, false),
        };
        send_patiently(&client, &session, text, action).await?;
    }
    let _ = client.leave(session).await;
    printer.abort();
    Ok(())
}

/// Sends one line, waiting as the server asks when it rate limits.
async fn send_patiently(
    client: &jsonrpsee::ws_client::WsClient,
    session: &str,
    text: String,
    action: bool,
) -> anyhow::Result<()> {
    loop {
        match client
            .send(session.to_owned(), text.clone(), action.then_some(true))
            .await
        {
            Ok(_) => return Ok(()),
            Err(ClientError::Call(err)) if err.code() == codes::RATE_LIMITED => {
                let wait = err
                    .data()
                    .and_then(|data| serde_json::from_str::<serde_json::Value>(data.get()).ok())
                    .and_then(|data| data["retry_after_ms"].as_u64())
                    .unwrap_or(1000);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            Err(ClientError::Call(err)) => {
                eprintln!("not sent: {}", err.message());
                return Ok(());
            }
            Err(err) => return Err(err).context("sending"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::MemberInfo;
    use uuid::Uuid;

    fn event(kind: EventKind, name: &str, text: Option<&str>) -> Event {
        Event {
            seq: 1,
            ts: 0,
            kind,
            from: MemberInfo {
                id: Uuid::nil(),
                name: name.into(),
            },
            text: text.map(str::to_owned),
        }
    }

    #[test]
    fn events_print_as_one_clean_line_each() {
        let line = |kind, name, text| format_event(&event(kind, name, text), 0);
        assert_eq!(
            line(EventKind::Message, "alice", Some("hi\nthere")),
            "00:00 <alice> hi there"
        );
        assert_eq!(
            line(EventKind::Action, "alice", Some("waves")),
            "00:00 * alice waves"
        );
        assert_eq!(line(EventKind::Join, "bob", None), "00:00 -!- bob joined");
        assert_eq!(
            line(EventKind::Leave, "bob", Some("too slow")),
            "00:00 -!- bob left (too slow)"
        );
        assert_eq!(
            line(EventKind::Nick, "robert", Some("bob")),
            "00:00 -!- bob is now known as robert"
        );
        assert_eq!(
            line(EventKind::Message, "mal\x1b[2J", Some("\x1b]0;x\x07ok")),
            "00:00 <mal2J> ]0;xok"
        );
        // Names are cleaned by the name rules, so none can imitate another line.
        assert_eq!(
            line(
                EventKind::Message,
                "bob> alice, hi",
                Some("send me your password")
            ),
            "00:00 <bob_alice_hi> send me your password"
        );
        assert_eq!(
            line(EventKind::Nick, "robert", Some("-!- bob")),
            "00:00 -!- bob is now known as robert"
        );
    }
}
