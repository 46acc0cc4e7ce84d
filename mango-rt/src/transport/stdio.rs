//! stdio: one JSON-RPC message a line on stdin and stdout; logs go to stderr.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

use super::{Verdict, guard};

/// The longest line read (a longer one is answered with an error and skipped).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// rmcp's stdio transport with a guard in front: invalid messages are answered (with
/// their `id` when they have one) instead of being dropped, and a notification that
/// comes before `initialize` is ignored instead of stopping the server (rmcp 3.11 ends
/// the session on it).
pub struct GuardedStdio<R, W> {
    reader: BufReader<R>,
    out: Arc<Mutex<W>>,
    initialize_seen: bool,
    buf: Vec<u8>,
}

impl<R: AsyncRead, W> GuardedStdio<R, W> {
    pub fn new(reader: R, writer: W) -> Self {
        GuardedStdio {
            reader: BufReader::new(reader),
            out: Arc::new(Mutex::new(writer)),
            initialize_seen: false,
            buf: Vec::new(),
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(out: &Mutex<W>, mut line: Vec<u8>) -> std::io::Result<()> {
    line.push(b'\n');
    let mut out = out.lock().await;
    out.write_all(&line).await?;
    out.flush().await
}

impl<R, W> Transport<RoleServer> for GuardedStdio<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let out = self.out.clone();
        async move {
            let line = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
            write_line(&out, line).await
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            self.buf.clear();
            let read = (&mut self.reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .await;
            match read {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "could not read stdin");
                    return None;
                }
            }
            if self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n') {
                // Skip the rest of the over-long line, then answer it.
                let mut rest = Vec::new();
                if let Err(e) = self.reader.read_until(b'\n', &mut rest).await {
                    tracing::error!(error = %e, "could not read stdin");
                    return None;
                }
                let reply = super::error_response(
                    serde_json::Value::Null,
                    super::INVALID_REQUEST,
                    format!("message too long: the limit is {MAX_LINE} bytes"),
                );
                send_reply(&self.out, reply).await;
                continue;
            }
            let line = self.buf.trim_ascii();
            if line.is_empty() {
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
                Verdict::Reply(reply) => {
                    tracing::warn!(reply = %reply, "answered an invalid message");
                    send_reply(&self.out, reply).await;
                }
                Verdict::Drop(why) => tracing::warn!("{why}"),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.out.lock().await.flush().await
    }
}

async fn send_reply<W: AsyncWrite + Unpin>(out: &Mutex<W>, reply: serde_json::Value) {
    let line = reply.to_string().into_bytes();
    if let Err(e) = write_line(out, line).await {
        tracing::error!(error = %e, "could not write to stdout");
    }
}
