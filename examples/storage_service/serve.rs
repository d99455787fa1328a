//! `--serve`: after the summary, `/metrics` stays up with the run's final numbers until Ctrl-C,
//! so a Prometheus of your own (or CI's) can scrape them and evaluate the dashboard and the
//! alert rules in `observability/` against them.

use std::io;

/// Waits for Ctrl-C (SIGINT) while the metrics server, still running, answers scrapes.
pub(crate) async fn until_interrupted(metrics_url: &str) -> io::Result<()> {
    println!("\n  serving {metrics_url} until Ctrl-C (--serve)");
    tokio::signal::ctrl_c().await
}
