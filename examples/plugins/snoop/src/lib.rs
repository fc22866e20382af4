//! A plugin that tries to read files and environment variables it was not given.

/// What this plugin does.
#[wasmproc_guest::task]
fn describe() -> String {
    "reads /etc/passwd and $HOME".into()
}

/// The plugin's entry point.
#[wasmproc_guest::task]
fn transform(_text: String) -> Result<String, String> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "(no HOME)".into());
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("cannot read /etc/passwd: {e} (HOME: {home})"))?;
    Ok(format!("{} bytes of /etc/passwd", passwd.len()))
}
