//! stdio: one JSON-RPC message a line on stdin and stdout; logs go to stderr.

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::{Verdict, guard};

/// The longest line read (a longer one is answered with an error and skipped).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// rmcp's stdio transport with a guard in front: invalid messages are answered (with
/// their `id` when they have one) instead of being dropped, and a notification that
/// comes before `initialize` is ignored instead of stopping the server (rmcp 3.11 ends
/// the session on it).
///
/// Both directions are cancel-safe: rmcp drops a pending `receive` whenever another
/// event wins its `select!`, so a partly read line stays in `buf` for the next call, and
/// every outgoing line goes through one writer task, so no line is ever cut in two.
pub struct GuardedStdio<R> {
    reader: BufReader<R>,
    /// Lines for the writer task (`None` once closed).
    out: Option<mpsc::UnboundedSender<Vec<u8>>>,
    writer: Option<tokio::task::JoinHandle<()>>,
    initialize_seen: bool,
    /// The line being read (kept across cancelled `receive` calls).
    buf: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    /// The ids of the client's requests not answered yet (as JSON: `1` and `"1"` are
    /// two ids): a request that reuses one is answered with an error, not dropped.
    in_flight: std::collections::HashSet<String>,
}

impl<R: AsyncRead> GuardedStdio<R> {
    /// Reads from `reader`; writes to `writer` from a task of its own (call within a
    /// tokio runtime).
    pub fn new<W: AsyncWrite + Unpin + Send + 'static>(reader: R, writer: W) -> Self {
        let (out, lines) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_lines(writer, lines));
        GuardedStdio {
            reader: BufReader::new(reader),
            out: Some(out),
            writer: Some(writer),
            initialize_seen: false,
            buf: Vec::new(),
            skipping: false,
            in_flight: Default::default(),
        }
    }

    fn reply(&self, reply: serde_json::Value) {
        tracing::warn!(reply = %reply, "answered an invalid message");
        if let Some(out) = &self.out {
            let _ = out.send(reply.to_string().into_bytes());
        }
    }
}

/// Writes each queued line, flushing once the queue is empty (so a burst of replies is
/// one write, not one per line).
async fn write_lines<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut lines: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(mut line) = lines.recv().await {
        loop {
            line.push(b'\n');
            if let Err(e) = writer.write_all(&line).await {
                tracing::error!(error = %e, "could not write to stdout");
                return;
            }
            match lines.try_recv() {
                Ok(next) => line = next,
                Err(_) => break,
            }
        }
        if let Err(e) = writer.flush().await {
            tracing::error!(error = %e, "could not write to stdout");
            return;
        }
    }
}

impl<R> Transport<RoleServer> for GuardedStdio<R>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            ServerJsonRpcMessage::Response(r) => Some(&r.id),
            ServerJsonRpcMessage::Error(e) => e.id.as_ref(),
            _ => None,
        };
        if let Some(id) = answered.and_then(|id| serde_json::to_string(id).ok()) {
            self.in_flight.remove(&id);
        }
        let sent = serde_json::to_vec(&item)
            .map_err(std::io::Error::other)
            .and_then(|line| match &self.out {
                Some(out) => out
                    .send(line)
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
                None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            });
        std::future::ready(sent)
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            let room = (MAX_LINE + 1).saturating_sub(self.buf.len()).max(1) as u64;
            let read = (&mut self.reader)
                .take(room)
                .read_until(b'\n', &mut self.buf)
                .await;
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "could not read stdin");
                    return None;
                }
            };
            let at_eof = n == 0;
            let complete = self.buf.last() == Some(&b'\n');
            if self.skipping {
                self.buf.clear();
                self.skipping = !complete;
                if at_eof {
                    return None;
                }
                continue;
            }
            if at_eof && self.buf.is_empty() {
                return None;
            }
            if !complete && !at_eof {
                // The line is longer than MAX_LINE: answer it, and skip the rest.
                self.buf.clear();
                self.skipping = true;
                self.reply(super::error_response(
                    serde_json::Value::Null,
                    super::INVALID_REQUEST,
                    format!("message too long: the limit is {MAX_LINE} bytes"),
                ));
                continue;
            }
            let line = std::mem::take(&mut self.buf);
            let line = line.trim_ascii();
            if line.is_empty() {
                if at_eof {
                    return None;
                }
                continue;
            }
            match guard(line) {
                Verdict::Pass(message) => {
                    let message = *message;
                    match &message {
                        ClientJsonRpcMessage::Request(r) => {
                            if matches!(r.request, ClientRequest::InitializeRequest(_)) {
                                self.initialize_seen = true;
                            }
                            let id = serde_json::to_string(&r.id).unwrap_or_default();
                            if !self.in_flight.insert(id.clone()) {
                                self.reply(super::error_response(
                                    serde_json::to_value(&r.id).unwrap_or_default(),
                                    super::INVALID_REQUEST,
                                    format!(
                                        "a request with the id {id} is in flight already: give each request an id that no request in flight has"
                                    ),
                                ));
                                continue;
                            }
                        }
                        ClientJsonRpcMessage::Notification(n) if self.initialize_seen => {
                            // A cancelled request is not answered (rmcp): its id is free.
                            if let rmcp::model::ClientNotification::CancelledNotification(c) =
                                &n.notification
                                && let Some(id) = &c.params.request_id
                                && let Ok(id) = serde_json::to_string(id)
                            {
                                self.in_flight.remove(&id);
                            }
                        }
                        _ if !self.initialize_seen => {
                            tracing::warn!(
                                "ignored a notification or response sent before `initialize`"
                            );
                            continue;
                        }
                        _ => {}
                    }
                    return Some(message);
                }
                Verdict::Reply(reply) => self.reply(reply),
                Verdict::Drop(why) => tracing::warn!("{why}"),
            }
        }
    }

    /// Lets the writer task write and flush every line queued so far, then ends it.
    async fn close(&mut self) -> Result<(), Self::Error> {
        self.out = None;
        if let Some(writer) = self.writer.take() {
            writer.await.map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `receive` dropped halfway through a line loses nothing.
    #[tokio::test]
    async fn a_cancelled_receive_keeps_the_partial_line() {
        let (mut client, server) = tokio::io::duplex(4096);
        let mut transport = GuardedStdio::new(server, tokio::io::sink());
        let line = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        let (head, tail) = line.split_at(40);
        client.write_all(head.as_bytes()).await.unwrap_or_default();
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(50), transport.receive()).await;
        assert!(cancelled.is_err(), "a partial line must not be a message");
        client.write_all(tail.as_bytes()).await.unwrap_or_default();
        client.write_all(b"\n").await.unwrap_or_default();
        let message = transport.receive().await;
        assert!(
            matches!(message, Some(ClientJsonRpcMessage::Request(_))),
            "{message:?}"
        );
    }

    /// A request that reuses the id of one in flight is answered with an error (rmcp
    /// alone dropped one of the two without an answer); once the first is answered,
    /// its id is free again.
    #[tokio::test]
    async fn a_request_whose_id_is_in_flight_is_answered_with_an_error() {
        let (mut client, server) = tokio::io::duplex(65536);
        let (out, mut replies) = tokio::io::duplex(65536);
        let mut transport = GuardedStdio::new(server, out);
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        let list = r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#;
        for line in [init, list, list] {
            client
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap_or_default();
        }
        assert!(transport.receive().await.is_some(), "initialize");
        assert!(transport.receive().await.is_some(), "the first request 7");
        let duplicate =
            tokio::time::timeout(std::time::Duration::from_millis(100), transport.receive()).await;
        assert!(duplicate.is_err(), "the duplicate was passed on");
        let mut reply = vec![0u8; 4096];
        let n = replies.read(&mut reply).await.unwrap_or_default();
        let reply = String::from_utf8_lossy(&reply[..n]);
        assert!(
            reply.contains(r#""id":7"#) && reply.contains("in flight already"),
            "{reply}"
        );
        let answer: ServerJsonRpcMessage =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        transport.send(answer).await.unwrap_or_default();
        client
            .write_all(format!("{list}\n").as_bytes())
            .await
            .unwrap_or_default();
        assert!(
            transport.receive().await.is_some(),
            "id 7 is free once answered"
        );
    }
}
