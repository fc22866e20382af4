//! Progress on stderr, shown only on an interactive terminal outside CI: the bar of `map`, and a
//! spinner while a module compiles.

use indicatif::{ProgressBar, ProgressStyle};

/// Whether to draw a progress bar. A function of its inputs so the rule can be tested.
pub(crate) fn should_show(stderr_is_terminal: bool, in_ci: bool) -> bool {
    stderr_is_terminal && !in_ci
}

/// Whether progress shows here.
fn showing() -> bool {
    use std::io::IsTerminal;
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    should_show(std::io::stderr().is_terminal(), in_ci)
}

/// How long work runs before the spinner appears (a cached module loads well within it).
const SPINNER_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// Runs `work`; if it takes longer than [`SPINNER_AFTER`], shows a spinner saying `message`
/// with the time so far, until it is done.
pub(crate) fn while_slow<T>(message: String, work: impl FnOnce() -> T) -> T {
    if !showing() {
        return work();
    }
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let spinner = std::thread::spawn(move || {
        if wait.recv_timeout(SPINNER_AFTER).is_ok() {
            return;
        }
        let bar = ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"))
            .with_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        let _ = wait.recv();
        bar.finish_and_clear();
    });
    let out = work();
    drop(done);
    let _ = spinner.join();
    out
}

/// The spinner's message while `module` compiles.
pub(crate) fn compiling(module: &std::path::Path) -> String {
    format!("compiling {} for this machine (once: later runs use the cache)", module.display())
}

/// A bar over `total` inputs when known, a counter otherwise; hidden when it should not show.
pub(crate) fn bar(total: Option<u64>) -> ProgressBar {
    if !showing() {
        return ProgressBar::hidden();
    }
    match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed_precise} < {eta_precise}] {per_sec}")
                .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} done [{elapsed_precise}] {per_sec}").expect("valid template"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::should_show;

    #[test]
    fn only_on_a_terminal_outside_ci() {
        assert!(should_show(true, false));
        assert!(!should_show(true, true));
        assert!(!should_show(false, false));
        assert!(!should_show(false, true));
    }
}
