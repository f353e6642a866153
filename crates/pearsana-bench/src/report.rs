//! The results of a run and their Markdown rendering (`BENCHMARKS.md`).

use std::fmt::Write as _;

/// A target from issue 6 and whether this run met it.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is compared, e.g. "ping, concurrency 64: SDK / raw throughput".
    pub what: String,
    /// The goal, e.g. "≥ 0.95".
    pub goal: String,
    /// The measured value, formatted.
    pub measured: String,
    /// Whether the goal was reached.
    pub met: bool,
}

/// A Markdown table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column headings.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(&self.headers));
        out.push_str(&line(&vec!["---".to_string(); self.headers.len()]));
        for row in &self.rows {
            out.push_str(&line(row));
        }
    }
}

/// One scenario's results.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Heading, e.g. "1. SDK overhead".
    pub title: String,
    /// What was run, in a sentence or two.
    pub method: String,
    /// The numbers.
    pub table: Table,
    /// Targets checked by the scenario.
    pub targets: Vec<Target>,
    /// Observations worth reading next to the numbers.
    pub notes: Vec<String>,
}

impl Section {
    /// Records a target.
    pub fn target(&mut self, what: impl Into<String>, goal: &str, measured: String, met: bool) {
        self.targets.push(Target {
            what: what.into(),
            goal: goal.into(),
            measured,
            met,
        });
    }
}

/// A whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The command that produced it.
    pub command: String,
    /// Whether this was a smoke run (tiny sizes; numbers not meaningful).
    pub smoke: bool,
    /// Machine, toolchain and commit, as Markdown list items.
    pub environment: Vec<String>,
    /// One per scenario.
    pub sections: Vec<Section>,
    /// Total wall time of the scenarios.
    pub wall_seconds: f64,
}

fn yes_no(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

impl Report {
    /// Renders the report as a Markdown document.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Benchmarks\n\n");
        if self.smoke {
            out.push_str(
                "**Smoke run**: every scenario at a tiny size to prove the harness works. \
                 The numbers below are not meaningful; `BENCHMARKS.md` holds a full run.\n\n",
            );
        }
        let _ = writeln!(
            out,
            "Produced by `{}` (scenarios took {:.0} s). Every comparison runs both sides in the \
             same run, alternating round by round, and reports medians over the rounds; \
             latency percentiles are taken over all requests of all rounds of a side.\n",
            self.command, self.wall_seconds
        );
        out.push_str("## Machine\n\n");
        for item in &self.environment {
            let _ = writeln!(out, "- {item}");
        }
        out.push_str("\n## Targets\n\n");
        let mut targets = Table::new(&["scenario", "what", "goal", "measured", "result"]);
        for section in &self.sections {
            for target in &section.targets {
                targets.row(vec![
                    section.title.clone(),
                    target.what.clone(),
                    target.goal.clone(),
                    target.measured.clone(),
                    yes_no(target.met).to_string(),
                ]);
            }
        }
        targets.render(&mut out);
        for section in &self.sections {
            let _ = write!(out, "\n## {}\n\n{}\n\n", section.title, section.method);
            section.table.render(&mut out);
            for note in &section.notes {
                let _ = write!(out, "\n{note}\n");
            }
        }
        out
    }

    /// The targets that were missed.
    pub fn missed(&self) -> impl Iterator<Item = (&Section, &Target)> {
        self.sections
            .iter()
            .flat_map(|s| s.targets.iter().map(move |t| (s, t)))
            .filter(|(_, t)| !t.met)
    }
}

/// Formats a number with thousands separators and no decimals.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with two decimals.
pub fn ms(value: f64) -> String {
    format!("{value:.2} ms")
}

/// Mebibytes with one decimal.
pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / crate::rss::MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }

    #[test]
    fn markdown_lists_targets_and_sections() {
        let mut section = Section {
            title: "1. X".into(),
            method: "did X".into(),
            ..Default::default()
        };
        section.table = Table::new(&["a", "b"]);
        section.table.row(vec!["1".into(), "2".into()]);
        section.target("ratio", "≥ 1", "0.5".into(), false);
        let report = Report {
            command: "cargo xtask bench".into(),
            sections: vec![section],
            environment: vec!["2 cores".into()],
            ..Default::default()
        };
        let md = report.to_markdown();
        assert!(
            md.contains("| 1. X | ratio | ≥ 1 | 0.5 | **missed** |"),
            "{md}"
        );
        assert!(md.contains("| 1 | 2 |"));
        assert!(md.contains("`cargo xtask bench`"));
        assert_eq!(report.missed().count(), 1);
    }
}
