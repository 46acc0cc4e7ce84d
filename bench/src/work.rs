//! Durable work (tasks and jobs) in the benchmark's projects: a task-mode call of a no-op
//! tool polled to completion against a plain call of it (HTTP, 2026-07-28, one
//! connection, sequential), the jobs' throughput with 1 and 4 workers (`run worker`,
//! a separate process, as on a deployment), and the worker's memory with a long queue.
//! `all` measures them on SQLite in its project, `scale` on PostgreSQL in its own: no
//! project of their own.

use std::process::Stdio;
use std::time::{Duration, Instant};

use mango_bench::loadgen;
use mango_bench::report::{CpuCost, JobsMemory, TaskCost, Throughput, Timing};
use mango_bench::timing::quantile;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{Running, io, memory, run};

/// What the two projects' app gets for this: a no-op tool that may run as a task, a
/// no-op job, and the commands that queue jobs and count the completed ones.
pub(crate) const WORK_ITEMS: &str = r#"
/// Does nothing: a plain call, or a task for a client with the tasks extension.
#[tool(task)]
async fn noop() -> i64 {
    0
}

/// A job that does nothing.
#[mango_rt::job(idempotent)]
async fn noop_job(n: i64) -> Result<i64, ToolError> {
    Ok(n)
}

/// Queues `count` no-op jobs (in one transaction).
#[mango_rt::command]
async fn enqueue_noop(count: i64, db: &mut Db) -> Result<String, ToolError> {
    for n in 0..count {
        noop_job::job(n).enqueue(db).await?;
    }
    Ok(format!("{count} jobs queued"))
}

#[derive(diesel::QueryableByName)]
struct JobsDone {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    done: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    first_ms: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    last_ms: Option<i64>,
}

/// The completed jobs: how many, and when the first and the last finished (ms).
#[mango_rt::command]
async fn jobs_done(db: &mut Db) -> Result<String, ToolError> {
    let d: JobsDone = diesel::sql_query(
        "SELECT count(*) AS done, min(finished_ms) AS first_ms, max(finished_ms) AS last_ms \
         FROM mango_jobs WHERE status = 'completed'",
    )
    .get_result(db)
    .await?;
    Ok(format!("{} {} {}", d.done, d.first_ms.unwrap_or(0), d.last_ms.unwrap_or(0)))
}
"#;

/// A command of the project on a database: `args` after the binary.
pub(crate) type Site<'a> = &'a Command;

/// The commands of the project on one database.
pub(crate) type Command = dyn Fn(&[&str]) -> std::process::Command;

/// Makes a fresh database (migrated), and the commands of the project on it.
pub(crate) type Fresh<'a> = &'a mut dyn FnMut() -> Result<Box<Command>, String>;

/// `(completed, first finished ms, last finished ms)`.
fn jobs_done(site: Site<'_>) -> Result<(usize, i64, i64), String> {
    let out = site(&["run", "jobs_done"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(io("jobs_done"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let mut next = || words.next().and_then(|w| w.parse::<i64>().ok());
    match (out.status.success(), next(), next(), next()) {
        (true, Some(done), Some(first), Some(last)) => {
            Ok((usize::try_from(done).unwrap_or(0), first, last))
        }
        _ => Err(format!("`run jobs_done` answered {text:?}")),
    }
}

/// Queues `queued` no-op jobs, starts `run worker --workers <workers>`, and waits until
/// `ran` have completed (at most `limit`); returns the worker (still running) and the
/// last count.
fn work(
    site: Site<'_>,
    queued: usize,
    workers: usize,
    ran: usize,
    limit: Duration,
) -> Result<(Running, (usize, i64, i64)), String> {
    run(site(&["run", "enqueue_noop", &queued.to_string()]).stdout(Stdio::null()))?;
    let worker = Running(
        site(&["run", "worker", "--workers", &workers.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("run worker"))?,
    );
    let until = Instant::now() + limit;
    loop {
        let done = jobs_done(site)?;
        if done.0 >= ran {
            return Ok((worker, done));
        }
        if Instant::now() > until {
            return Err(format!(
                "{workers} worker(s) completed {} of {ran} no-op jobs in {limit:?}",
                done.0
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// No-op jobs completed per second by `run worker --workers <workers>`, from the first
/// job's end to the last's (the worker's start left out), on the fresh database
/// `fresh` makes.
pub(crate) fn throughput(
    database: &str,
    fresh: Fresh<'_>,
    workers: usize,
    jobs: usize,
) -> Result<Throughput, String> {
    let site = fresh()?;
    let (_worker, (done, first, last)) =
        work(&*site, jobs, workers, jobs, Duration::from_secs(300))?;
    #[allow(clippy::cast_precision_loss)]
    let per_second = (done.saturating_sub(1)) as f64 / ((last - first).max(1) as f64 / 1000.0);
    eprintln!(
        "  jobs, {database}, {workers} worker(s): {per_second:.0} no-op jobs/s ({done} jobs)"
    );
    Ok(Throughput {
        database: database.to_owned(),
        workers,
        jobs: done,
        per_second,
    })
}

/// The worker's peak RSS (4 workers) once `ran` jobs have completed, with `small` and
/// with `large` jobs queued at its start.
pub(crate) fn worker_memory(
    fresh: Fresh<'_>,
    small: usize,
    large: usize,
    ran: usize,
) -> Result<JobsMemory, String> {
    let mut peak = |queued: usize| -> Result<f64, String> {
        let site = fresh()?;
        let (worker, _) = work(&*site, queued, 4, ran, Duration::from_secs(300))?;
        Ok(memory(worker.0.id()).1)
    };
    let small_peak_mib = peak(small)?;
    let large_peak_mib = peak(large)?;
    eprintln!(
        "  worker's peak RSS after {ran} jobs: {small_peak_mib:.1} MiB with {small} queued, {large_peak_mib:.1} MiB with {large}"
    );
    Ok(JobsMemory {
        ran,
        small,
        small_peak_mib,
        large,
        large_peak_mib,
    })
}

/// The `_meta` of a 2026-07-28 request, with or without the tasks extension.
fn meta(tasks: bool) -> serde_json::Value {
    let extensions = if tasks {
        serde_json::json!({"io.modelcontextprotocol/tasks": {}})
    } else {
        serde_json::json!({})
    };
    serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "mango-bench", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {"extensions": extensions},
    })
}

/// One connection's sequential 2026-07-28 requests.
struct Client {
    authority: String,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn open(authority: &str) -> Result<Client, String> {
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("connecting to {authority}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Client {
            authority: authority.to_owned(),
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// `method` with `params` (its `_meta` added); the answer's `result`.
    async fn rpc(
        &mut self,
        method: &str,
        name: &str,
        mut params: serde_json::Value,
        tasks: bool,
    ) -> Result<serde_json::Value, String> {
        params["_meta"] = meta(tasks);
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                .to_string();
        let request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: {method}\r\nMcp-Name: {name}\r\nContent-Length: {}\r\n\r\n{body}",
            self.authority,
            body.len()
        );
        self.stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let (status, body) = loadgen::read_response(&mut self.stream, &mut self.buf)
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let mut answer: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{method}: {status} {e}"))?;
        match answer.get_mut("result") {
            Some(result) if status == 200 => Ok(result.take()),
            _ => Err(format!("{method}: {status} {answer}")),
        }
    }
}

/// A plain call of `tool` (no arguments), and a task-mode call of it polled with
/// `tasks/get` until it has completed (no wait between polls), in turn on one
/// connection: 20 of each to warm up, then `repetitions` of each. With the server's
/// `pid`, also the server's CPU time (every thread's, from `/proc`, read between the
/// timed calls) over each kind: the issue's measure is the server's time, which the
/// client's round trips are not. (In turn, not in blocks: 400 tasks in a row cost the
/// server a third more each than tasks between plain calls, on SQLite.)
pub(crate) async fn task_cost(
    authority: &str,
    tool: &str,
    repetitions: usize,
    pid: Option<u32>,
) -> Result<TaskCost, String> {
    let mut client = Client::open(authority).await?;
    let call = serde_json::json!({"name": tool, "arguments": {}});
    let plain_call = async |client: &mut Client| -> Result<(), String> {
        let r = client.rpc("tools/call", tool, call.clone(), false).await?;
        if r["structuredContent"]["result"] != 0 {
            return Err(format!("a plain call of {tool}: {r}"));
        }
        Ok(())
    };
    // A task made and polled to its end: how many polls it took.
    let task_call = async |client: &mut Client| -> Result<usize, String> {
        let made = client.rpc("tools/call", tool, call.clone(), true).await?;
        let id = made["taskId"]
            .as_str()
            .ok_or_else(|| format!("a task-mode call of {tool} made no task: {made}"))?
            .to_owned();
        let mut n = 0;
        loop {
            n += 1;
            let got = client
                .rpc("tasks/get", &id, serde_json::json!({"taskId": id}), true)
                .await?;
            match got["status"].as_str() {
                Some("completed") => return Ok(n),
                Some("working") if n < 100_000 => {}
                _ => return Err(format!("the task of {tool}: {got}")),
            }
        }
    };
    for _ in 0..20 {
        plain_call(&mut client).await?;
        task_call(&mut client).await?;
    }
    let (mut plain, mut task, mut polls) = (Vec::new(), Vec::new(), 0_usize);
    let (mut plain_ns, mut task_ns) = (0_u64, 0_u64);
    for _ in 0..repetitions {
        let before = pid.and_then(loadgen::cpu_ns);
        let started = Instant::now();
        plain_call(&mut client).await?;
        plain.push(started.elapsed().as_secs_f64() * 1000.0);
        let between = pid.and_then(loadgen::cpu_ns);
        let started = Instant::now();
        polls += task_call(&mut client).await?;
        task.push(started.elapsed().as_secs_f64() * 1000.0);
        let after = pid.and_then(loadgen::cpu_ns);
        if let (Some(before), Some(between), Some(after)) = (before, between, after) {
            plain_ns += between.saturating_sub(before);
            task_ns += after.saturating_sub(between);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let per = |ns: u64| ns as f64 / 1000.0 / repetitions.max(1) as f64;
    let server_cpu = (plain_ns > 0).then(|| CpuCost {
        plain_us: per(plain_ns),
        task_us: per(task_ns),
    });
    #[allow(clippy::cast_precision_loss)]
    let polls = polls as f64 / repetitions.max(1) as f64;
    let (plain, task) = (timing(plain), timing(task));
    eprintln!(
        "  a task-mode call polled to completion: p50 {:.3} ms ({polls:.1} tasks/get); a plain call: p50 {:.3} ms",
        task.p50_ms, plain.p50_ms
    );
    if let Some(cpu) = &server_cpu {
        eprintln!(
            "  the server's CPU time: {:.1} µs per task, {:.1} µs per plain call ({:.2}×)",
            cpu.task_us,
            cpu.plain_us,
            cpu.task_us / cpu.plain_us
        );
    }
    Ok(TaskCost {
        plain,
        task,
        polls_per_task: polls,
        server_cpu,
    })
}

fn timing(mut times: Vec<f64>) -> Timing {
    times.sort_by(f64::total_cmp);
    Timing {
        p50_ms: quantile(&times, 0.5),
        p99_ms: quantile(&times, 0.99),
    }
}
