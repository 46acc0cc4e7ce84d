//! A server on the far end of an in-memory pipe, spoken to in JSON lines (as over
//! stdio), for the in-process timings (`tools-list`, `rounds`).

use rmcp::ServiceExt;
use rmcp::handler::server::ServerHandler;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub struct Pipe {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    reader: BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
    /// The last line read.
    pub line: Vec<u8>,
    server: tokio::task::JoinHandle<()>,
}

impl Pipe {
    /// Serves `handler` over a new pipe (not initialized: see [`Pipe::initialize`]).
    pub fn open<H: ServerHandler>(handler: H) -> Pipe {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (read, write) = tokio::io::split(server);
        let server = tokio::spawn(async move {
            if let Ok(service) = handler.serve((read, write)).await {
                let _ = service.waiting().await;
            }
        });
        let (read, write) = tokio::io::split(client);
        Pipe {
            write,
            reader: BufReader::with_capacity(1 << 20, read),
            line: Vec::with_capacity(1 << 20),
            server,
        }
    }

    /// The 2025-06-18 handshake: `initialize`, its answer, `notifications/initialized`.
    pub async fn initialize(&mut self) -> Result<(), String> {
        self.send(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#).await?;
        self.read_line().await?;
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await
    }

    /// Writes one line (the `\n` added).
    pub async fn send(&mut self, line: &str) -> Result<(), String> {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    }

    /// Reads one answer line into [`Pipe::line`].
    pub async fn read_line(&mut self) -> Result<(), String> {
        self.line.clear();
        match self.reader.read_until(b'\n', &mut self.line).await {
            Ok(0) => Err("the server stopped".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.server.abort();
    }
}
