//! Two resource templates that can match one URI stop start-up, naming both.

use mango_rt::resource;
use mango_rt::testing::TestServer;

/// One note, by id.
#[resource("notes://{id}")]
async fn by_id(id: i64) -> String {
    id.to_string()
}

/// One note, by slug: `notes://x` matches both templates.
#[resource("notes://{slug}")]
async fn by_slug(slug: String) -> String {
    slug
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_templates_stop_start_up_naming_both() {
    let message = match TestServer::new().await {
        Ok(_) => panic!("a server started with two templates for one URI"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("two resources claim the URI `notes://{id}`")
            && message.contains("`notes://{slug}`")
            && message.contains("by_id")
            && message.contains("by_slug")
            && message.contains("resource_clash.rs"),
        "{message}"
    );
}
