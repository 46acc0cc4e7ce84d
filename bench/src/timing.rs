//! Latency summaries of the in-process timings (`tools-list`, `rounds`).

/// The `q` quantile (0..=1) of sorted times.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// `{"p50_ms": …, "p99_ms": …}` of times in milliseconds, as the binaries print them.
pub fn summary(mut times: Vec<f64>) -> serde_json::Value {
    times.sort_by(f64::total_cmp);
    serde_json::json!({"p50_ms": quantile(&times, 0.5), "p99_ms": quantile(&times, 0.99)})
}
