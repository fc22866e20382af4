//! The `wasmproc` command as a user runs it: real processes, real exit codes.

use crate::common::{cache_dir, scratch};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use wasmproc_tests::FIXTURES_WASM;

fn wasmproc(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmproc-test-cli"))
        .args(args)
        .env("WASMPROC_CACHE_DIR", cache_dir())
        .env_remove("WASMPROC_PROCESSES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_prints_the_json_result() {
    let o = wasmproc(&["run", FIXTURES_WASM, "square", "7"], "");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "49\n"), "{}", stderr(&o));
    let o = wasmproc(&["run", FIXTURES_WASM, "join", r#"["a","b"]"#, r#""-""#], "");
    assert_eq!(stdout(&o), "\"a-b\"\n");
    let o = wasmproc(&["run", FIXTURES_WASM, "add", "-5", "2"], "");
    assert_eq!(stdout(&o), "-3\n", "{}", stderr(&o));
}

#[test]
fn run_errors_have_exit_codes() {
    let o = wasmproc(&["run", FIXTURES_WASM, "even_only", "3"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("task `even_only` failed on input 0: 3 is odd"), "{}", stderr(&o));

    let o = wasmproc(&["run", FIXTURES_WASM, "panic_on", "3", "3"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("panicked") && stderr(&o).contains("boom at 3"), "{}", stderr(&o));

    let o = wasmproc(&["run", FIXTURES_WASM, "squre", "3"], "");
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("no task named `squre`") && stderr(&o).contains("square"), "{}", stderr(&o));

    let o = wasmproc(&["run", FIXTURES_WASM, "square", "seven"], "");
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("not valid JSON") && stderr(&o).contains("square(x: u64) -> u64"), "{}", stderr(&o));

    let o = wasmproc(&["run", FIXTURES_WASM, "square", "1", "2"], "");
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("takes 1 argument, got 2"), "{}", stderr(&o));

    let o = wasmproc(&["run", FIXTURES_WASM, "square", "\"x\""], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("expected `square(x: u64) -> u64`"), "{}", stderr(&o));

    let text = scratch("cli-not-wasm.txt");
    std::fs::write(&text, "hello").unwrap();
    let o = wasmproc(&["run", text.to_str().unwrap(), "square", "1"], "");
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("is not a WebAssembly file"), "{}", stderr(&o));

    let o = wasmproc(&["run"], "");
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn inspect_lists_tasks_with_types() {
    let o = wasmproc(&["inspect", FIXTURES_WASM], "");
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("  add(a: i64, b: i64) -> i64\n      Adds two numbers."), "{text}");
    assert!(text.contains("  join(parts: Vec<String>, sep: String) -> String"), "{text}");
    let o = wasmproc(&["inspect", "--json", FIXTURES_WASM], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let square = v["tasks"].as_array().unwrap().iter().find(|t| t["name"] == "square").unwrap();
    assert_eq!(square["params"][0]["type"], "u64");
}

#[test]
fn map_streams_lines_in_order() {
    let input: String = (0..200).map(|i| format!("{i}\n")).collect();
    let o = wasmproc(&["map", FIXTURES_WASM, "square", "--processes", "2"], &input);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected: String = (0..200u64).map(|i| format!("{}\n", i * i)).collect();
    assert_eq!(stdout(&o), expected);
    // Progress bars never go to a pipe.
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));

    let o = wasmproc(&["map", FIXTURES_WASM, "square", "-p", "2", "--chunksize", "7", "--unordered"], &input);
    let mut got: Vec<u64> = stdout(&o).lines().map(|l| l.parse().unwrap()).collect();
    got.sort();
    assert_eq!(got, (0..200u64).map(|i| i * i).collect::<Vec<_>>());

    let pairs = "[1, 2]\n\n[3, 4]\n";
    let o = wasmproc(&["map", FIXTURES_WASM, "add"], pairs);
    assert_eq!(stdout(&o), "3\n7\n");
}

#[test]
fn map_files_in_and_out() {
    let input = scratch("cli-in.jsonl");
    let output = scratch("cli-out.jsonl");
    std::fs::write(&input, (1..=1000).map(|i| format!("{{\"id\": {i}, \"value\": {i}}}\n")).collect::<String>())
        .unwrap();
    let o = wasmproc(
        &["map", FIXTURES_WASM, "process_record", "-i", input.to_str().unwrap(), "-o", output.to_str().unwrap()],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&output).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[59], serde_json::json!({"id": 60, "processed": 3600, "category": "high"}));
}

#[test]
fn map_reports_the_failing_line_or_keeps_going() {
    let input = "2\n4\n5\n6\n";
    let o = wasmproc(&["map", FIXTURES_WASM, "even_only"], input);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "2\n4\n", "results before the failure are kept");
    assert!(stderr(&o).contains("line 3: task `even_only` failed on input 2: 5 is odd"), "{}", stderr(&o));

    let o = wasmproc(&["map", FIXTURES_WASM, "even_only", "--keep-going"], input);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2]["line"], 3);
    assert!(lines[2]["error"].as_str().unwrap().contains("5 is odd"));
    assert_eq!(lines[3], serde_json::json!(6));
    assert!(stderr(&o).contains("1 input failed"), "{}", stderr(&o));
}

#[test]
fn map_rejects_lines_that_are_not_json() {
    let input = "1\n2\nthree\n4\n";
    let o = wasmproc(&["map", FIXTURES_WASM, "square"], input);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("line 3 is not valid JSON"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1\n4\n");

    let o = wasmproc(&["map", FIXTURES_WASM, "square", "--keep-going"], input);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!((lines[0], lines[1], lines[3]), ("1", "4", "16"));
    assert!(lines[2].contains("\"line\":3") && lines[2].contains("not valid JSON"), "{}", lines[2]);
}

#[test]
fn guest_output_is_prefixed_by_process_and_never_interleaved() {
    let input: String = (0..40).map(|i| format!("[\"t{i}\", 25]\n")).collect();
    let o = wasmproc(&["map", FIXTURES_WASM, "chatter", "--processes", "2"], &input);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Guest stdout goes to stderr in the CLI, one whole line at a time.
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 40 * 25);
    let filler = "x".repeat(40);
    for line in &lines {
        let (prefix, rest) = line.split_once("] ").unwrap_or_else(|| panic!("no prefix: {line:?}"));
        assert!(prefix.starts_with("[pool") && prefix.contains('-'), "{line:?}");
        let parts: Vec<&str> = rest.split(' ').collect();
        assert_eq!(parts.len(), 4, "{line:?}");
        assert!(parts[0].starts_with('t') && parts[1] == "line" && parts[3] == filler, "{line:?}");
    }
}

/// The CLI lets its workers exit (they are not killed once everything is answered), and a worker
/// process exits without freeing what it holds but still writes its guest's unfinished last line.
#[test]
fn a_guests_unfinished_last_line_is_written_when_its_worker_exits() {
    let o = wasmproc(&["run", FIXTURES_WASM, "say_unfinished", "\"no newline\""], "");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "10\n"), "{}", stderr(&o));
    assert!(stderr(&o).lines().any(|l| l == "[pool0-0] no newline"), "{}", stderr(&o));
    let o = wasmproc(&["map", FIXTURES_WASM, "say_unfinished", "-p", "2"], "\"a\"\n\"b\"\n\"c\"\n");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "1\n1\n1\n"), "{}", stderr(&o));
    let mut tails: Vec<String> = stderr(&o).lines().filter_map(|l| l.split_once("] ")).map(|(_, t)| t.into()).collect();
    tails.sort();
    // Each worker's pieces make one line, whichever worker ran which input.
    assert_eq!(tails.concat().chars().collect::<std::collections::BTreeSet<_>>().len(), 3, "{}", stderr(&o));
}

#[test]
fn sandbox_and_limit_flags() {
    let dir = scratch("cli-grant");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.txt"), "twelve bytes").unwrap();
    let grant = format!("{}::/in:ro", dir.display());
    let o = wasmproc(&["run", FIXTURES_WASM, "read_file", "\"/in/in.txt\"", "--dir", &grant], "");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "12\n"), "{}", stderr(&o));
    let o = wasmproc(&["run", FIXTURES_WASM, "read_file", "\"/in/in.txt\""], "");
    assert_eq!(o.status.code(), Some(1), "no grant, no file");
    let o = wasmproc(&["run", FIXTURES_WASM, "get_env", "\"MODE\"", "--env", "MODE=fast"], "");
    assert_eq!(stdout(&o), "\"fast\"\n");
    let o = wasmproc(&["run", FIXTURES_WASM, "spin", "--timeout", "300ms"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    let o = wasmproc(&["run", FIXTURES_WASM, "allocate", "64", "--max-memory", "32MiB"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exceeded its memory limit"), "{}", stderr(&o));
    let o = wasmproc(&["run", FIXTURES_WASM, "square", "2", "--dir", "/no/such/dir::/x"], "");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("/no/such/dir"), "{}", stderr(&o));
}

#[test]
fn a_deadline_writes_what_is_in_and_says_how_far_it_got() {
    // Two quick inputs, then one that would sleep a minute: at the deadline the first two are
    // written, the third is given up on (its worker killed with the pool), and the exit is 4.
    let t = std::time::Instant::now();
    let o = wasmproc(
        &["map", FIXTURES_WASM, "sleep_ms", "-p", "1", "-c", "1", "--deadline", "2s", "-i", "-"],
        "0\n1\n60000\n",
    );
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(4), "0\n1\n"), "{}", stderr(&o));
    assert!(stderr(&o).contains("gave up after --deadline 2s: 2 inputs answered"), "{}", stderr(&o));
    assert!(t.elapsed() < std::time::Duration::from_secs(30), "the sleeper was not waited for: {:?}", t.elapsed());
    let o = wasmproc(&["run", FIXTURES_WASM, "sleep_ms", "60000", "--deadline", "1s"], "");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(4), ""), "{}", stderr(&o));
    assert!(stderr(&o).contains("gave up after --deadline 1s: no answer"), "{}", stderr(&o));
    // Finishing in time is not affected.
    let o = wasmproc(&["map", FIXTURES_WASM, "square", "--deadline", "1m"], "2\n3\n");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "4\n9\n"), "{}", stderr(&o));
}

/// Descendants of `pid` (children, their children, …), from /proc.
#[cfg(target_os = "linux")]
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = children(pid);
    let mut i = 0;
    while i < out.len() {
        out.extend(children(out[i]));
        i += 1;
    }
    out
}

/// Children of `pid`, from /proc.
#[cfg(target_os = "linux")]
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // Fields after the parenthesized command: state, ppid, …
        let after = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        if after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

#[test]
// Counts the fork server and workers in /proc, and sends SIGINT. A Windows twin cannot run under
// Wine 8: `GenerateConsoleCtrlEvent` fails there (ERROR_INVALID_ACCESS with the output redirected,
// ERROR_INVALID_HANDLE on a pty), so no Ctrl-C reaches the CLI.
#[cfg(target_os = "linux")]
fn ctrl_c_stops_everything_with_130() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmproc-test-cli"))
        .args(["map", FIXTURES_WASM, "sleep_ms", "--processes", "2"])
        .env("WASMPROC_CACHE_DIR", cache_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"5000\n5000\n").unwrap();
    let workers = {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let w = descendants(child.id());
            if w.len() == 3 || std::time::Instant::now() > end {
                break w;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    assert_eq!(workers.len(), 3, "the CLI started its fork server and, from it, 2 workers: {workers:?}");
    let start = std::time::Instant::now();
    wasmproc_tests::os::kill(child.id(), wasmproc_tests::os::SIGINT);
    let status = child.wait().unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    drop(stdin);
    assert!(
        crate::common::eventually(2, || workers.iter().all(|p| crate::common::process_gone(*p))),
        "the fork server or workers outlived the CLI: {workers:?}"
    );
}

#[test]
fn the_thread_start_method_gives_the_same_results_and_limits() {
    let input: String = (0..100).map(|i| format!("{i}\n")).collect();
    let o = wasmproc(&["map", FIXTURES_WASM, "square", "-p", "2", "--start-method", "thread"], &input);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), (0..100u64).map(|i| format!("{}\n", i * i)).collect::<String>());
    let o = wasmproc(&["run", FIXTURES_WASM, "spin", "--timeout", "200ms", "--start-method", "thread"], "");
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    let o = wasmproc(&["run", FIXTURES_WASM, "square", "2", "--start-method", "fork"], "");
    assert_eq!(o.status.code(), Some(2), "a bad start method is a usage error: {}", stderr(&o));
}

#[test]
fn compile_warms_the_cache_and_names_a_missing_module() {
    let o = wasmproc(&["compile", FIXTURES_WASM], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("compiled") && stderr(&o).contains("read the cache"), "{}", stderr(&o));
    let o = wasmproc(&["compile", "/no/such/tasks.wasm"], "");
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("/no/such/tasks.wasm"), "{}", stderr(&o));
}
