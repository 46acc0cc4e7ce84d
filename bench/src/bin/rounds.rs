//! What a round of the multi-round-trip pattern (MRTR, protocol 2026-07-28) costs, in
//! process: a tool call in two rounds (the first asks a question with `ctx.elicit` and
//! answers `input_required`; the second brings the answer and the signed
//! `requestState`, and completes) against two plain `tools/call`s of a tool doing the
//! same work, over an in-memory pipe (JSON lines, as over stdio), timed from writing
//! the first request to reading the last answer. Prints one JSON object on stdout.
//!
//! usage: rounds [<repetitions>]

use std::time::Instant;

use mango_bench::pipe::Pipe;
use mango_bench::timing::summary;
use mango_rt::__private::{TOOLS, benchmark_hook_server};
use mango_rt::schemars::JsonSchema;
use mango_rt::serde::Deserialize;
use mango_rt::{Answer, Context, ToolError, tool};

/// Add two numbers.
#[tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[derive(Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
struct Confirm {
    /// Add them?
    confirm: bool,
}

/// Add two numbers once the user confirms.
#[tool]
async fn confirm_add(a: i64, b: i64, ctx: &Context) -> Result<i64, ToolError> {
    match ctx.elicit::<Confirm>("Add them?").await? {
        Answer::Accept(Confirm { confirm: true }) => Ok(a + b),
        _ => Err(ToolError::new("not confirmed")),
    }
}

/// The `_meta` of a 2026-07-28 request: the version, and a client that can elicit.
const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"0"}}"#;

/// The calls the benchmark makes over a pipe, with their ids.
struct Caller {
    pipe: Pipe,
    next_id: u64,
}

impl Caller {
    /// One `tools/call` with these params (without `_meta`); its `result`.
    async fn call(&mut self, params: &str) -> Result<serde_json::Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{{META},{params}}}}}"#
        );
        self.pipe.send(&line).await?;
        self.pipe.read_line().await?;
        let mut answer: serde_json::Value =
            serde_json::from_slice(&self.pipe.line).map_err(|e| e.to_string())?;
        match answer.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(format!("not a result: {answer}")),
        }
    }

    /// Two plain calls of `add`.
    async fn two_calls(&mut self) -> Result<f64, String> {
        let started = Instant::now();
        for _ in 0..2 {
            let r = self
                .call(r#""name":"mango-bench_add","arguments":{"a":2,"b":3}"#)
                .await?;
            if r["structuredContent"]["result"] != 5 {
                return Err(format!("add: {r}"));
            }
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// One call of `confirm_add` in its two rounds.
    async fn two_rounds(&mut self) -> Result<f64, String> {
        let started = Instant::now();
        let asked = self
            .call(r#""name":"mango-bench_confirm_add","arguments":{"a":2,"b":3}"#)
            .await?;
        let state = asked["requestState"]
            .as_str()
            .ok_or_else(|| format!("the first round did not ask: {asked}"))?;
        let params = format!(
            r#""name":"mango-bench_confirm_add","arguments":{{"a":2,"b":3}},"inputResponses":{{"q0":{{"action":"accept","content":{{"confirm":true}}}}}},"requestState":"{state}""#
        );
        let done = self.call(&params).await?;
        if done["structuredContent"]["result"] != 5 {
            return Err(format!("the second round: {done}"));
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }
}

async fn run(repetitions: usize) -> Result<serde_json::Value, String> {
    let tools = TOOLS.iter().filter(|t| t.meta.app == "mango-bench");
    let server = benchmark_hook_server(tools).map_err(|e| e.to_string())?;
    let mut pipe = Caller {
        pipe: Pipe::open(server),
        next_id: 1,
    };
    let (mut rounds, mut calls) = (Vec::new(), Vec::new());
    // The two alternate, so that neither runs in the other's wake; the first 20 warm up.
    for i in 0..repetitions + 20 {
        let (r, c) = if i % 2 == 0 {
            let r = pipe.two_rounds().await?;
            (r, pipe.two_calls().await?)
        } else {
            let c = pipe.two_calls().await?;
            (pipe.two_rounds().await?, c)
        };
        if i >= 20 {
            rounds.push(r);
            calls.push(c);
        }
    }
    Ok(serde_json::json!({
        "two rounds": summary(rounds),
        "two calls": summary(calls),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let repetitions = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    match run(repetitions).await {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("rounds: {e}");
            std::process::exit(1);
        }
    }
}
