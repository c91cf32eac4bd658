//! Latency statistics and the printed report.

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub scenario: String,
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Per-operation latencies in microseconds (successful operations).
    pub latencies_us: Vec<u64>,
    /// Server CPU time (user + system) consumed during the run, when the server is a separate process.
    pub server_cpu: Option<Duration>,
    /// Server peak resident memory (VmHWM) in bytes, when known.
    pub server_peak_rss: Option<u64>,
    /// CPU time (user + system) of the load generator itself during the run: what the
    /// server's two cores lose to it when both run on one machine.
    pub generator_cpu: Option<Duration>,
    pub first_error: Option<String>,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

impl Outcome {
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU microseconds per successful operation.
    pub fn cpu_us_per_op(&self) -> Option<f64> {
        self.server_cpu
            .map(|c| c.as_secs_f64() * 1e6 / (self.ops.max(1) as f64))
    }

    /// Load-generator CPU microseconds per successful operation.
    pub fn generator_us_per_op(&self) -> Option<f64> {
        self.generator_cpu
            .map(|c| c.as_secs_f64() * 1e6 / (self.ops.max(1) as f64))
    }

    pub fn header() -> String {
        format!(
            "{:<20} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>12} {:>10} {:>9} {:>11}",
            "scenario",
            "ops",
            "ops/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "cpu µs/op",
            "× floor",
            "peak MB",
            "gen µs/op"
        )
    }

    pub fn line(&self, floor_us: Option<f64>) -> String {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let cpu = self.cpu_us_per_op();
        format!(
            "{:<20} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>12} {:>10} {:>9} {:>11}",
            self.scenario,
            self.ops,
            self.throughput(),
            pct(&sorted, 0.50),
            pct(&sorted, 0.90),
            pct(&sorted, 0.99),
            sorted.last().map(|m| *m as f64 / 1000.0).unwrap_or(0.0),
            self.errors,
            cpu.map(|c| format!("{c:.0}")).unwrap_or_else(|| "-".into()),
            match (cpu, floor_us) {
                (Some(c), Some(f)) if f > 0.0 => format!("{:.1}", c / f),
                _ => "-".into(),
            },
            self.server_peak_rss
                .map(|b| format!("{:.0}", b as f64 / 1048576.0))
                .unwrap_or_else(|| "-".into()),
            self.generator_us_per_op()
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "-".into()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rates() {
        let o = Outcome {
            scenario: "x".into(),
            ops: 100,
            elapsed: Duration::from_secs(2),
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
            server_cpu: Some(Duration::from_millis(50)),
            generator_cpu: Some(Duration::from_millis(20)),
            ..Outcome::default()
        };
        assert_eq!(o.throughput(), 50.0);
        assert_eq!(o.cpu_us_per_op(), Some(500.0));
        assert_eq!(o.generator_us_per_op(), Some(200.0));
        let mut s = o.latencies_us.clone();
        s.sort_unstable();
        assert_eq!(pct(&s, 0.5), 51.0);
        assert_eq!(pct(&s, 0.99), 99.0);
        let line = o.line(Some(100.0));
        assert!(line.contains(" 5.0 "), "{line}");
        assert!(line.ends_with(" 200"), "{line}");
    }
}
