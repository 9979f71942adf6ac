//! The workspace's shape, checked: no import circle among the modules of any crate (a module
//! names another as `crate::name`, outside comments and its tests), and every module is named
//! in the architecture page, `docs/ARCHITECTURE.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = ["core", "trainer", "plugin", "xtask"];

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
