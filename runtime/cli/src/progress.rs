//! The progress bar of `map`: shown only on an interactive terminal outside CI.

use indicatif::{ProgressBar, ProgressStyle};

/// Whether to draw a progress bar. A function of its inputs so the rule can be tested.
pub(crate) fn should_show(stderr_is_terminal: bool, in_ci: bool) -> bool {
    stderr_is_terminal && !in_ci
}

/// A bar over `total` inputs when known, a counter otherwise; hidden when it should not show.
pub(crate) fn bar(total: Option<u64>) -> ProgressBar {
    use std::io::IsTerminal;
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    if !should_show(std::io::stderr().is_terminal(), in_ci) {
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
