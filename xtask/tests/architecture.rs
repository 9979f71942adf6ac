//! The workspace's shape, checked: no import circle among the modules of any crate (a module
//! names another as `crate::name`, outside comments and its tests), every module is named in
//! the architecture page, `docs/ARCHITECTURE.md`, and no function outside tests is longer
//! than [`LONGEST_FUNCTION`] lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = ["core", "trainer", "plugin", "xtask"];
/// The most lines a function may take, from `fn` to its closing brace.
const LONGEST_FUNCTION: usize = 80;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each module of the crate in `src` (a file `NAME.rs` or `NAME/mod.rs` directly under it),
/// with its source.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap().map(Result::unwrap) {
        let path = entry.path();
        let (name, file) = if path.is_dir() {
            (entry.file_name().to_string_lossy().into_owned(), path.join("mod.rs"))
        } else if path.extension().is_some_and(|e| e == "rs") {
            (path.file_stem().unwrap().to_string_lossy().into_owned(), path.clone())
        } else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(&file) {
            found.insert(name, text);
        }
    }
    found
}

/// The modules of the crate that `source` names as `crate::NAME`, outside comments and its
/// `#[cfg(test)]` part.
fn imports(source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut named = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String =
                rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit()).collect();
            if modules.contains(&name) {
                named.insert(name);
            }
        }
    }
    named
}

/// A circle in `graph`, if there is one, as the modules along it.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        at: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|m| m == at) {
            let mut found = path[i..].to_vec();
            found.push(at.to_string());
            return Some(found);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_an_import_circle() {
    for krate in CRATES {
        let sources = modules(&root().join(krate).join("src"));
        let names: BTreeSet<String> = sources.keys().cloned().collect();
        let graph: BTreeMap<String, BTreeSet<String>> = sources
            .iter()
            .map(|(m, text)| (m.clone(), imports(text, &names).into_iter().filter(|n| n != m).collect()))
            .collect();
        assert_eq!(circle(&graph), None, "{krate}: modules that import each other in a circle");
    }
}

#[test]
fn the_check_finds_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]
        .into_iter()
        .map(|(m, n)| (m.to_string(), BTreeSet::from([n.to_string()])))
        .collect();
    assert_eq!(circle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let names = BTreeSet::from(["key".to_string(), "score".to_string()]);
    let source = "use crate::key::Key;\n// crate::score in a comment\n#[cfg(test)]\nuse crate::score::Score;";
    assert_eq!(imports(source, &names), BTreeSet::from(["key".to_string()]));
}

#[test]
fn every_module_is_named_in_the_architecture_page() {
    let page = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    for krate in CRATES {
        for module in modules(&root().join(krate).join("src")).keys() {
            let named = [format!("{module}.rs"), format!("{module}/")].iter().any(|n| page.contains(n.as_str()));
            assert!(named, "docs/ARCHITECTURE.md does not name {krate}'s module `{module}`");
        }
    }
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The functions of `source` (before its `#[cfg(test)]` part) longer than `limit` lines, by
/// name and length: a function runs from its `fn` line to the first line after it that
/// closes a brace at the `fn` line's indentation.
fn long_functions(source: &str, limit: usize) -> Vec<(String, usize)> {
    let lines: Vec<&str> = source.lines().take_while(|l| l.trim() != "#[cfg(test)]").collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut long = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let words: Vec<&str> = lines[i].split_whitespace().take_while(|w| !w.contains('(')).collect();
        let Some(at) = words.iter().position(|w| *w == "fn") else {
            i += 1;
            continue;
        };
        let name = lines[i].split("fn ").nth(1).unwrap_or("").split(['(', '<']).next().unwrap_or("").to_string();
        let Some(open) = (i..lines.len()).find(|&j| lines[j].trim_end().ends_with(['{', ';'])) else { break };
        if at > 0 && words[..at].iter().any(|w| w.starts_with("//")) || lines[open].trim_end().ends_with(';') {
            i = open + 1;
            continue;
        }
        let close = (open + 1..lines.len())
            .find(|&j| indent(lines[j]) == indent(lines[i]) && lines[j].trim_start().starts_with('}'))
            .unwrap_or(lines.len() - 1);
        if close - i + 1 > limit {
            long.push((name, close - i + 1));
        }
        i = close + 1;
    }
    long
}

#[test]
fn no_function_is_longer_than_the_limit() {
    for krate in CRATES {
        let mut files = Vec::new();
        sources(&root().join(krate).join("src"), &mut files);
        for file in files {
            let long = long_functions(&std::fs::read_to_string(&file).unwrap(), LONGEST_FUNCTION);
            assert!(long.is_empty(), "{}: functions over {LONGEST_FUNCTION} lines: {long:?}", file.display());
        }
    }
}

#[test]
fn the_length_check_finds_a_long_function() {
    let body = "    x += 1;\n".repeat(5);
    let source = format!("/// doc\npub fn long(x: &mut i32) {{\n{body}}}\n\nfn short() {{}}\nfn declared();\n");
    assert_eq!(long_functions(&source, 6), vec![("long".to_string(), 7)]);
    assert!(long_functions(&source, 7).is_empty());
}

/// Whether `source` (before its `#[cfg(test)]` part) sets or removes an environment variable.
fn sets_the_environment(source: &str) -> bool {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| l.contains("set_var(") || l.contains("remove_var("))
}

/// Library code never sets an environment variable: a plugin runs in a host whose threads
/// may read the environment at that moment, and crash (issue #24). Only a program's
/// `main.rs` may, first thing, before it starts any thread.
#[test]
fn no_library_code_sets_the_environment() {
    for krate in CRATES {
        let mut files = Vec::new();
        sources(&root().join(krate).join("src"), &mut files);
        for file in files.iter().filter(|f| f.file_name().is_some_and(|n| n != "main.rs")) {
            assert!(
                !sets_the_environment(&std::fs::read_to_string(file).unwrap()),
                "{} sets the environment",
                file.display()
            );
        }
    }
}

#[test]
fn the_environment_check_finds_a_setter() {
    assert!(sets_the_environment("fn f() {\n    std::env::set_var(\"A\", \"1\");\n}\n"));
    assert!(!sets_the_environment(
        "// std::env::set_var\nfn f() {}\n#[cfg(test)]\nmod t { fn g() { std::env::set_var(\"A\", \"1\"); } }\n"
    ));
}
