//! The HTTP server's connections: hyper's HTTP/1.1, with a deadline for a request's
//! headers (`[server] header_timeout`) and a cap on open connections (`[server]
//! max_connections`). At the cap a new connection closes the oldest one that has no
//! request in flight (idle, or still sending its headers) or, when every one is busy,
//! is refused: a client that opens connections and holds them half-sent cannot keep
//! everyone else out, and `/healthz` is answered while it tries.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a connection may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// How long a shutdown waits for open connections (their calls have been drained, and
/// the sessions ended, before it begins).
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How often the cap is logged at most while it is being hit.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// An open connection: its requests in flight, and how to close it.
struct Open {
    busy: Arc<AtomicUsize>,
    close: CancellationToken,
}

#[derive(Default)]
struct Connections {
    next: u64,
    /// By age: the first is the oldest.
    open: BTreeMap<u64, Open>,
    /// When the cap was last logged, and what it did since.
    warned: Option<Instant>,
    closed: usize,
    refused: usize,
}

impl Connections {
    /// Makes room for a connection from `peer` (the oldest idle connection is closed
    /// when the cap is reached); its id, its busy count and its closer, or none when
    /// every open connection is busy.
    fn admit(
        &mut self,
        max: usize,
        peer: SocketAddr,
    ) -> Option<(u64, Arc<AtomicUsize>, CancellationToken)> {
        if self.open.len() >= max.max(1) {
            let idle = self
                .open
                .iter()
                .find(|(_, o)| o.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id);
            let admitted = match idle.and_then(|id| self.open.remove(&id)) {
                Some(oldest) => {
                    oldest.close.cancel();
                    self.closed += 1;
                    true
                }
                None => {
                    self.refused += 1;
                    false
                }
            };
            if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                self.warned = Some(Instant::now());
                tracing::warn!(
                    max_connections = max,
                    closed_idle = self.closed,
                    refused = self.refused,
                    latest_peer = %peer,
                    "the HTTP connection cap is reached ([server] max_connections): the oldest idle or half-sent connections are closed for new ones, and new ones refused while every connection is busy"
                );
                (self.closed, self.refused) = (0, 0);
            }
            if !admitted {
                return None;
            }
        }
        let id = self.next;
        self.next += 1;
        let busy = Arc::new(AtomicUsize::new(0));
        let close = CancellationToken::new();
        self.open.insert(
            id,
            Open {
                busy: busy.clone(),
                close: close.clone(),
            },
        );
        Some((id, busy, close))
    }
}

/// Counts a request in flight on its connection until its response body is sent (or
/// dropped).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight.
struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` until `stop` resolves, then waits (at most
/// [`CLOSE_WAIT`]) for the open connections to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let connections = Arc::new(Mutex::new(Connections::default()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, most often: wait for some to close.
                    tracing::warn!(error = %e, "could not accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let admitted = connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(limits.max_connections, peer);
        let Some((id, busy, close)) = admitted else {
            drop(stream);
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            // The peer's address reaches calls (`Caller::address`): the rate limit keys
            // anonymous callers on it.
            req.extensions_mut().insert(ConnectInfo(peer));
            let busy = Busy::start(&busy);
            let mut app = app.clone();
            async move {
                let response =
                    match tower_service::Service::call(&mut app, req.map(Body::new)).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                Ok::<_, Infallible>(
                    response.map(|inner| Body::new(BusyBody { inner, _busy: busy })),
                )
            }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let connections = connections.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "HTTP connection ended with an error");
                    }
                }
                () = close.cancelled() => {
                    tracing::debug!(%peer, "closed an idle HTTP connection for a new one (the connection cap)");
                }
            }
            connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .open
                .remove(&id);
        });
    }
    drop(listener);
    if tokio::time::timeout(CLOSE_WAIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            "HTTP connections still open {CLOSE_WAIT:?} into the shutdown; closing them"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }

    /// At the cap the oldest idle connection makes room; a busy one never does; when
    /// all are busy the newcomer is refused.
    #[test]
    fn the_cap_closes_the_oldest_idle_connection() {
        let mut c = Connections::default();
        let (a, busy_a, close_a) = c.admit(2, peer()).expect("room");
        let (_, _, close_b) = c.admit(2, peer()).expect("room");
        busy_a.fetch_add(1, Ordering::AcqRel);
        let (_, busy_c, _) = c.admit(2, peer()).expect("b is idle");
        assert!(close_b.is_cancelled() && !close_a.is_cancelled());
        assert!(c.open.contains_key(&a));
        busy_c.fetch_add(1, Ordering::AcqRel);
        assert!(c.admit(2, peer()).is_none(), "every connection is busy");
        assert_eq!(c.open.len(), 2);
    }
}
