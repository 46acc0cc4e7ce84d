//! Property test (proptest) of a generated tool's argument decoding: whatever JSON
//! object comes as the arguments, the call never panics and never hangs; arguments of
//! the right shape give the tool's result, others an error result that names the field
//! at fault.

use mango_rt::testing::TestServer;
use mango_rt::tool;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Echo typed arguments.
#[tool]
async fn echo(
    a: i64,
    b: String,
    #[serde(default)] c: Option<bool>,
    #[serde(default)] d: Vec<u8>,
) -> String {
    format!("{a}|{b}|{c:?}|{d:?}")
}

/// The same shape, read by serde directly: what the arguments should decode to.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Shape {
    a: i64,
    b: String,
    #[serde(default)]
    c: Option<bool>,
    #[serde(default)]
    d: Vec<u8>,
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u8..=255).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-e]{1,2}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Argument objects: each of a, b, c, d absent, well typed or anything; sometimes a key
/// the tool does not have.
fn arguments() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    let field = |good: BoxedStrategy<Value>| {
        prop_oneof![Just(None), good.prop_map(Some), value().prop_map(Some)]
    };
    (
        field(any::<i64>().prop_map(Value::from).boxed()),
        field(".{0,8}".prop_map(Value::String).boxed()),
        field(any::<bool>().prop_map(Value::Bool).boxed()),
        field(
            prop::collection::vec(0u8..=255, 0..4)
                .prop_map(|v| json!(v))
                .boxed(),
        ),
        prop_oneof![Just(None), value().prop_map(Some)],
    )
        .prop_map(|(a, b, c, d, extra)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [("a", a), ("b", b), ("c", c), ("d", d), ("zz", extra)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            m
        })
}

fn cases() -> u32 {
    std::env::var("MANGO_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_arguments_get_the_result_or_an_error_naming_the_field(args in arguments()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build();
        let Ok(runtime) = runtime else { return Err(TestCaseError::fail("no runtime")) };
        let result = runtime.block_on(async {
            let server = TestServer::new().await.map_err(|e| e.to_string())?;
            server
                .call("mango-rt_echo", Value::Object(args.clone()))
                .await
                .map_err(|e| e.to_string())
        });
        let result = result.map_err(TestCaseError::fail)?;
        let expected = serde_json::from_value::<Shape>(Value::Object(args.clone()));
        match expected {
            Ok(shape) => {
                prop_assert!(!result.is_error(), "{:?} -> {}", args, result.text());
                let head = format!("{}|{}|", shape.a, shape.b);
                prop_assert!(result.text().starts_with(&head), "{} for {:?}", result.text(), args);
            }
            Err(_) => {
                prop_assert!(result.is_error(), "{:?} was accepted: {}", args, result.text());
                let text = result.text();
                prop_assert!(
                    text.starts_with("invalid argument `") || text.starts_with("invalid arguments:"),
                    "{:?} -> {}", args, text
                );
            }
        }
    }
}
