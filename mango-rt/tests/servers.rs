//! Servers in one process (as tests run them): the code outside calls reaches the ones
//! running, not only the first one started, and none once they have stopped.

use mango_rt::testing::TestServer;
use mango_rt::{StartError, app_settings};

/// An app's settings (its section may be left out: every key has a default).
#[mango_rt::settings]
struct Limits {
    #[serde(default = "ten")]
    max: u32,
}

fn ten() -> u32 {
    10
}

async fn server() -> TestServer {
    match TestServer::new().await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}

fn max() -> Result<u32, String> {
    app_settings::<Limits>()
        .map(|l| l.max)
        .map_err(|e: StartError| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn code_outside_calls_reaches_the_running_servers() {
    let first = server().await;
    assert_eq!(max(), Ok(10));
    let second = server().await;
    drop(first);
    // The second server, started after the first, is reached once the first is gone.
    assert_eq!(max(), Ok(10));
    mango_rt::resource_changed("notes://1").await;
    drop(second);
    match max() {
        Err(gone) => assert!(gone.contains("Limits"), "{gone}"),
        Ok(max) => panic!("settings read from a server that has stopped: {max}"),
    }
}
