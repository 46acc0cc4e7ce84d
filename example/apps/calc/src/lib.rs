//! The `calc` app: arithmetic tools, served as `calc_<fn name>`.

use mango_rt::{ToolError, tool};

/// Add two numbers.
#[tool(read_only, idempotent)]
async fn add(
    /// The first number.
    a: f64,
    /// The second number.
    b: f64,
) -> f64 {
    a + b
}

/// Divide `a` by `b`.
#[tool(read_only, idempotent)]
async fn divide(a: f64, b: f64) -> Result<f64, ToolError> {
    if b == 0.0 {
        return Err(ToolError::new("cannot divide by zero: pass a non-zero `b`"));
    }
    Ok(a / b)
}

/// Summary statistics of a list of numbers.
#[mango_rt::data]
struct Stats {
    count: usize,
    mean: f64,
    min: f64,
    max: f64,
}

/// Count, mean, min and max of some numbers.
#[tool(read_only, idempotent, title = "Statistics")]
fn stats(
    /// The numbers (at least one).
    numbers: Vec<f64>,
) -> Result<Stats, ToolError> {
    if numbers.is_empty() {
        return Err(ToolError::new("give at least one number"));
    }
    let count = numbers.len();
    let sum: f64 = numbers.iter().sum();
    let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
    let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok(Stats {
        count,
        mean: sum / count as f64,
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn divide_refuses_zero() {
        assert_eq!(divide(6.0, 3.0).await.ok(), Some(2.0));
        assert!(divide(1.0, 0.0).await.is_err());
    }

    #[test]
    fn stats_of_three_numbers() {
        let s = stats(vec![1.0, 2.0, 6.0])
            .ok()
            .map(|s| (s.count, s.mean, s.min, s.max));
        assert_eq!(s, Some((3, 3.0, 1.0, 6.0)));
    }
}
