//! The layering of `runtime/src` and `guest-sdk/src` (ARCHITECTURE.md draws it): no module imports
//! a module of a higher layer, the worker never imports the broker, the context or a scheduler,
//! and neither crate has an import cycle between its modules. Read from the sources, so a change
//! that brings a cycle back fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The runtime's modules by layer, lowest first.
const RUNTIME_LAYERS: &[&[&str]] = &[
    &["sys", "error", "config", "engine", "cache", "keep", "spin", "ipc", "shm::raw"],
    &["broker", "worker"],
    &["context", "module", "job", "spawn", "link", "cluster"],
    &["queue", "pipe", "manager", "shm"],
    &["pool", "process", "executor", "node"],
];

/// What the worker must never import (it runs in another process, knowing only the protocol).
const WORKER_MUST_NOT_IMPORT: &[&str] =
    &["broker", "context", "pool", "process", "executor", "link", "spawn", "cluster", "node"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The module a file belongs to, as named in the layer table (`shm/raw/region.rs` → `shm::raw`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    match parts.as_slice() {
        [root] if root == "lib" => None,
        [top, sub, ..] if top == "shm" && sub == "raw" => Some("shm::raw".into()),
        [top, ..] => Some(top.clone()),
        [] => None,
    }
}

/// The code of a file without comments (doc links name types without importing them).
fn code(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a path below `crate::` starts with (`shm::raw::Region` → `shm::raw`).
fn first_module(path: &str) -> Option<String> {
    let segments: Vec<&str> = path
        .split("::")
        .take(2)
        .map(|s| s.trim().split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""))
        .collect();
    match segments.as_slice() {
        ["shm", "raw", ..] => Some("shm::raw".into()),
        [first, ..] if !first.is_empty() => Some(first.to_string()),
        _ => None,
    }
}

/// The modules `text` refers to through `crate::…` paths, grouped ones (`crate::{a, b::c}`)
/// included.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `wasmproc_crate::`…
        }
        let rest = &text[at + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.extend(first_module(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(first_module(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.extend(first_module(rest));
        }
    }
    out
}

/// Module → the modules it imports.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let Some(m) = module_of(src, &file) else { continue };
        let deps = imports(&code(&file));
        g.entry(m.clone()).or_default().extend(deps.into_iter().filter(|d| *d != m));
    }
    g
}

/// A cycle in `g`, if there is one.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn the_runtime_imports_only_downward_and_has_no_cycle() {
    let g = graph(&root().join("runtime/src"));
    let layer = |m: &str| RUNTIME_LAYERS.iter().position(|l| l.contains(&m));
    for (m, deps) in &g {
        let Some(own) = layer(m) else {
            panic!("module `{m}` is in no layer: add it to RUNTIME_LAYERS and ARCHITECTURE.md")
        };
        for d in deps {
            let theirs = layer(d).unwrap_or_else(|| match d.starts_with(char::is_uppercase) {
                true => panic!("`{m}` imports `crate::{d}` through the crate root: import it from its module"),
                false => panic!("`{m}` imports `{d}`, which is in no layer"),
            });
            assert!(theirs <= own, "`{m}` (layer {}) imports `{d}` (layer {}), a higher layer", own + 2, theirs + 2);
        }
    }
    for forbidden in WORKER_MUST_NOT_IMPORT {
        assert!(!g["worker"].contains(*forbidden), "the worker imports `{forbidden}`");
    }
    assert_eq!(cycle(&g), None, "an import cycle between runtime modules");
    assert!(g.len() >= 20, "the check sees the modules ({})", g.len());
}

#[test]
fn the_guest_sdk_has_no_cycle() {
    let g = graph(&root().join("guest-sdk/src"));
    assert_eq!(cycle(&g), None, "an import cycle between guest SDK modules");
    assert!(g.contains_key("dispatch") && g.contains_key("queue"), "{g:?}");
}

#[test]
fn the_check_finds_a_cycle_and_an_upward_import() {
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle(&g), Some(vec!["a".into(), "b".into(), "a".into()]));
    let found =
        imports("use crate::shm::raw::Region; crate::pool::x; $crate::y; use crate::{keep, link::{Link, Event}};");
    assert_eq!(found, BTreeSet::from(["shm::raw", "pool", "keep", "link"].map(String::from)));
}
