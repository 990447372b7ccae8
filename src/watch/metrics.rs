//! The daemon's Prometheus metrics: what it processed and found, how long evaluations take,
//! how much work is queued, the state of the last reload and of alert delivery.
//! Exposed in the text exposition format by the status server at `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::diagnostic::Finding;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub struct Metrics {
    registry: Registry,
    processed: Family<Labels, Counter>,
    skipped: Family<Labels, Counter>,
    findings: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    evaluation_seconds: Histogram,
    pub queue_depth: Gauge,
    pub in_flight: Gauge,
    last_reload_success: Gauge,
    last_reload_time: Gauge<f64, AtomicU64>,
    policy_set: Family<Labels, Gauge>,
    alerts_delivered: Family<Labels, Counter>,
    alert_failures: Family<Labels, Counter>,
    alerts_pending: Family<Labels, Gauge>,
    alerts_dead: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("solguard");
        let metrics = Self {
            processed: Family::default(),
            skipped: Family::default(),
            findings: Family::default(),
            errors: Family::default(),
            evaluation_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            queue_depth: Gauge::default(),
            in_flight: Gauge::default(),
            last_reload_success: Gauge::default(),
            last_reload_time: Gauge::default(),
            policy_set: Family::default(),
            alerts_delivered: Family::default(),
            alert_failures: Family::default(),
            alerts_pending: Family::default(),
            alerts_dead: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "packages_processed",
            "Packages evaluated, by verdict",
            metrics.processed.clone(),
        );
        registry.register(
            "packages_skipped",
            "Packages not evaluated, by reason (seen: the same bytes were evaluated before)",
            metrics.skipped.clone(),
        );
        registry.register(
            "findings",
            "Findings that count against a verdict, by rule and severity",
            metrics.findings.clone(),
        );
        registry.register(
            "errors",
            "Operational errors, by kind (io, history, report, alert, reload, panic)",
            metrics.errors.clone(),
        );
        registry.register(
            "evaluation_seconds",
            "Time to read, evaluate and report one package",
            metrics.evaluation_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Packages settled and waiting for a worker",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "in_flight",
            "Packages being read and evaluated now",
            metrics.in_flight.clone(),
        );
        registry.register(
            "last_reload_success",
            "1 when the last configuration and policy load succeeded, else 0",
            metrics.last_reload_success.clone(),
        );
        registry.register(
            "last_reload_timestamp_seconds",
            "Unix time of the last configuration and policy load attempt",
            metrics.last_reload_time.clone(),
        );
        registry.register(
            "policy_set",
            "The active policy set of each watch folder, by hash as in its reports (value 1)",
            metrics.policy_set.clone(),
        );
        registry.register(
            "alerts_delivered",
            "Alerts delivered, by sink",
            metrics.alerts_delivered.clone(),
        );
        registry.register(
            "alert_delivery_failures",
            "Failed alert delivery attempts, by sink",
            metrics.alert_failures.clone(),
        );
        registry.register(
            "alerts_pending",
            "Alerts in the outbox not yet delivered, by sink",
            metrics.alerts_pending.clone(),
        );
        registry.register(
            "alerts_dead",
            "Alerts given up after the sink's maximum age, by sink",
            metrics.alerts_dead.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn processed(&self, verdict: &str, findings: &[Finding], seconds: f64) {
        self.processed
            .get_or_create(&labels(&[("verdict", verdict)]))
            .inc();
        for finding in findings.iter().filter(|f| f.counts()) {
            self.findings
                .get_or_create(&labels(&[
                    ("rule", &finding.rule),
                    ("severity", &finding.severity.to_string()),
                ]))
                .inc();
        }
        self.evaluation_seconds.observe(seconds);
    }

    pub fn skipped(&self, reason: &str) {
        self.skipped
            .get_or_create(&labels(&[("reason", reason)]))
            .inc();
    }

    pub fn error(&self, kind: &str) {
        self.errors.get_or_create(&labels(&[("kind", kind)])).inc();
    }

    /// Records a reload; on success, the policy set each watch folder now evaluates with (the
    /// hash its reports show).
    pub fn reloaded(
        &self,
        success: bool,
        policy_sets: Option<&[(String, String)]>,
        unix_time: f64,
    ) {
        self.last_reload_success.set(i64::from(success));
        self.last_reload_time.set(unix_time);
        if let Some(sets) = policy_sets {
            self.policy_set.clear();
            for (watch, hash) in sets {
                self.policy_set
                    .get_or_create(&labels(&[("watch", watch), ("hash", hash)]))
                    .set(1);
            }
        }
    }

    pub fn alerts_delivered(&self, sink: &str, count: usize) {
        self.alerts_delivered
            .get_or_create(&labels(&[("sink", sink)]))
            .inc_by(count as u64);
    }

    pub fn alert_counts(&self, sink: &str, pending: i64, dead: i64) {
        let sink = labels(&[("sink", sink)]);
        self.alerts_pending.get_or_create(&sink).set(pending);
        self.alerts_dead.get_or_create(&sink).set(dead);
    }

    pub fn alert_failed(&self, sink: &str) {
        self.alert_failures
            .get_or_create(&labels(&[("sink", sink)]))
            .inc();
    }

    /// The metrics in the OpenMetrics text format (counters' samples end in `_total`, the
    /// exposition ends with `# EOF`).
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// The metrics in the classic Prometheus text format (0.0.4), for scrapers that do not
    /// ask for OpenMetrics: a counter's `# TYPE` and `# HELP` name its `_total` samples (a
    /// classic parser would otherwise take them for untyped series), and the OpenMetrics-only
    /// lines (`# UNIT`, `# EOF`) are left out.
    pub fn render_classic(&self) -> String {
        to_classic(&self.render())
    }
}

/// The classic text format of an OpenMetrics exposition.
fn to_classic(openmetrics: &str) -> String {
    let mut counters: Vec<&str> = Vec::new();
    for line in openmetrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_suffix(" counter"))
        {
            counters.push(name);
        }
    }
    let mut classic = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# TYPE ", "# HELP "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        classic.push_str(renamed.as_deref().unwrap_or(line));
        classic.push('\n');
    }
    classic
}

#[cfg(test)]
mod tests {
    use super::to_classic;

    #[test]
    fn counters_are_named_by_their_samples_in_the_classic_format() {
        let open = "# HELP solguard_errors Operational errors.\n# TYPE solguard_errors counter\nsolguard_errors_total{kind=\"io\"} 2\n# EOF\n";
        assert_eq!(
            to_classic(open),
            "# HELP solguard_errors_total Operational errors.\n# TYPE solguard_errors_total counter\nsolguard_errors_total{kind=\"io\"} 2\n"
        );
    }
}
