//! Twin of the tutorial's "并行文件处理": hash the files of a directory in parallel.
//!
//! ```python
//! def parallel_file_process(directory, pattern='*.*', workers=4):
//!     files = list(Path(directory).glob(pattern))
//!     with Pool(workers) as pool:
//!         results = pool.map(process_file, files)
//!     return results
//!
//! results = parallel_file_process('.', '*.py')
//! for r in results[:5]: print(r)
//! ```
//!
//! The difference that matters: the Python workers can read anything the user can. Here the guests
//! see only the one directory, read-only, mounted at `/data`. A file outside it is an error record,
//! the same as a file that does not exist (the last two inputs show both).
//!
//! Run: `cargo run --release -p wasmproc-examples --bin parallel_files [DIRECTORY] [EXTENSION]`
//! (default: this example's own source directory and `rs`).

use serde::Deserialize;
use std::path::PathBuf;
use wasmproc::{DirAccess, Pool, Sandbox};

#[derive(Deserialize, Debug)]
struct FileReport {
    path: String,
    size: Option<usize>,
    hash: Option<String>,
    error: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let directory =
        args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/bin"));
    let extension = args.next().unwrap_or_else(|| "rs".to_string());
    let (ctx, module) = wasmproc_examples::setup()?;
    let process_file = module.task::<String, FileReport>("process_file")?;

    let mut files: Vec<String> = std::fs::read_dir(&directory)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == extension.as_str()))
        .map(|e| format!("/data/{}", e.file_name().to_string_lossy()))
        .collect();
    files.sort();
    let found = files.len();
    files.push("/data/does-not-exist.txt".to_string());
    files.push("/etc/passwd".to_string());

    let sandbox = Sandbox::default().dir(&directory, "/data", DirAccess::ReadOnly);
    let pool = Pool::builder(&ctx).processes(4).sandbox(sandbox).build()?;
    let results = pool.map(&process_file, files)?;
    for r in results.iter().take(5).chain(results.iter().rev().take(2).rev()) {
        match (&r.hash, &r.error) {
            (Some(hash), _) => println!("{}  {:>6} bytes  md5 {hash}", r.path, r.size.unwrap_or(0)),
            (None, Some(error)) => println!("{}  error: {error}", r.path),
            (None, None) => println!("{}  ?", r.path),
        }
    }
    let hashed = results.iter().filter(|r| r.hash.is_some()).count();
    println!("{hashed} of {found} files hashed; {} errors", results.len() - hashed);
    assert_eq!(hashed, found);
    assert!(results[found + 1].error.is_some(), "/etc/passwd is outside the grant");
    Ok(())
}
