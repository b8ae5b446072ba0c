//! Timed steps and the summary table that ends `cargo xtask test`.

use std::time::{Duration, Instant};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The step ran and succeeded.
    Pass,
    /// The step ran and failed.
    Fail,
    /// The step was not run (e.g. `--quick`).
    Skip,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Skip => "skip",
        }
    }
}

/// One finished step.
#[derive(Debug)]
struct Step {
    name: String,
    outcome: Outcome,
    elapsed: Duration,
}

/// The steps of one run, in order, with their outcomes and times.
#[derive(Debug)]
pub(crate) struct Report {
    steps: Vec<Step>,
    started: Instant,
}

impl Report {
    /// An empty report; its clock starts now.
    pub(crate) fn new() -> Self {
        Self {
            steps: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Runs `body` as the step `name`: prints a header, times it, prints and records the outcome.
    /// Returns whether it passed.
    pub(crate) fn run(&mut self, name: &str, body: impl FnOnce() -> Result<(), String>) -> bool {
        println!("\n==> {name}");
        let start = Instant::now();
        let result = body();
        let elapsed = start.elapsed();
        let outcome = match result {
            Ok(()) => Outcome::Pass,
            Err(err) => {
                eprintln!("error in step `{name}`: {err}");
                Outcome::Fail
            }
        };
        println!(
            "<== {name}: {} in {:.1} s",
            outcome.label(),
            elapsed.as_secs_f64()
        );
        self.steps.push(Step {
            name: name.to_owned(),
            outcome,
            elapsed,
        });
        outcome == Outcome::Pass
    }

    /// Records `name` as skipped, saying why.
    pub(crate) fn skip(&mut self, name: &str, why: &str) {
        println!("\n==> {name}: skipped ({why})");
        self.steps.push(Step {
            name: name.to_owned(),
            outcome: Outcome::Skip,
            elapsed: Duration::ZERO,
        });
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.steps
            .iter()
            .filter(|step| step.outcome == outcome)
            .count()
    }

    /// Whether every step that ran passed.
    pub(crate) fn passed(&self) -> bool {
        self.count(Outcome::Fail) == 0
    }

    /// The summary: one row per step, then a libtest-style `test result:` line counting steps.
    pub(crate) fn summary(&self) -> String {
        let width = self
            .steps
            .iter()
            .map(|step| step.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut rows = String::from("\n==> summary of cargo xtask test (one row per step)\n");
        rows.push_str(&format!("{:<width$}  result  seconds\n", "step"));
        for step in &self.steps {
            let seconds = step.elapsed.as_secs_f64();
            let label = step.outcome.label();
            rows.push_str(&format!(
                "{:<width$}  {label:<6}  {seconds:>7.1}\n",
                step.name
            ));
        }
        let verdict = if self.passed() { "ok" } else { "FAILED" };
        rows + &format!(
            "test result: {verdict}. {} passed; {} failed; {} ignored; 0 measured; \
             0 filtered out; finished in {:.2}s",
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip),
            self.started.elapsed().as_secs_f64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_steps_and_fails_on_any_failure() {
        let mut report = Report::new();
        assert!(report.run("good", || Ok(())));
        assert!(!report.run("bad", || Err("boom".into())));
        report.skip("later", "--quick");
        let summary = report.summary();
        let rows: Vec<Vec<&str>> = summary
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(
            rows.iter().any(|row| row[..] == ["good", "pass", "0.0"]),
            "{summary}"
        );
        assert!(
            rows.iter().any(|row| row[..] == ["bad", "FAIL", "0.0"]),
            "{summary}"
        );
        assert!(
            summary.contains("test result: FAILED. 1 passed; 1 failed; 1 ignored;"),
            "{summary}"
        );
        assert!(!report.passed());
    }
}
