//! The module layout the design promises, checked on the source: the actor tree, the
//! pure core and the two ports have no import cycles, no module of the actor tree imports its parent, and
//! `plan` imports neither `aws` nor `k8s`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed assumption is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module under `src/` by path (`crate::actors::slot::ec2`), with its source.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.first().is_some_and(|p| p == "bin") {
            continue;
        }
        if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
            parts.pop();
        }
        // Unit tests import what they test; they are leaves, not part of the layout.
        if parts
            .last()
            .is_some_and(|p| p == "tests" || p == "fixtures")
        {
            continue;
        }
        let name = std::iter::once("crate".to_string())
            .chain(parts)
            .collect::<Vec<_>>()
            .join("::");
        let src = std::fs::read_to_string(&f).unwrap();
        // Inline unit tests are not part of the layout either.
        let src = match src.find("#[cfg(test)]\nmod tests {") {
            Some(i) => src[..i].to_string(),
            None => src,
        };
        out.insert(name, src);
    }
    out
}

/// The paths a `use` tree names: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| {
            if p == "self" {
                prefix.to_string()
            } else {
                format!("{prefix}::{p}")
            }
        })
        .collect()
}

/// The module `path` (as written in `module`) names, if it is one of `mods`.
fn resolve(module: &str, path: &str, mods: &BTreeMap<String, String>) -> Option<String> {
    let mut segs: Vec<&str> = module.split("::").collect();
    let mut rest = path.split("::").peekable();
    match rest.peek().copied() {
        Some("crate") => segs.clear(),
        Some("super") => {
            while rest.peek() == Some(&"super") {
                segs.pop();
                rest.next();
            }
        }
        Some("self") => {
            rest.next();
        }
        Some(first) if mods.contains_key(&format!("{module}::{first}")) => {}
        _ => return None,
    }
    segs.extend(rest);
    (1..=segs.len())
        .rev()
        .map(|i| segs[..i].join("::"))
        .find(|m| mods.contains_key(m))
}

/// Which modules each module imports (its own descendants excepted).
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (m, src) in mods {
        let mut targets = BTreeSet::new();
        let code: String = src
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut paths = Vec::new();
        for stmt in code.split(';') {
            let s = stmt.trim_start();
            let s = s.strip_prefix("pub ").unwrap_or(s);
            let s = s.strip_prefix("pub(crate) ").unwrap_or(s);
            if let Some(tree) = s.strip_prefix("use ") {
                paths.extend(expand(tree));
            }
        }
        // Paths written in code (`crate::telemetry::metric::X`).
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            if word.starts_with("crate::") || word.starts_with("super::") {
                paths.push(word.trim_end_matches(':').to_string());
            }
        }
        for p in paths {
            if let Some(t) = resolve(m, &p, mods)
                && t != *m
                && !t.starts_with(&format!("{m}::"))
            {
                targets.insert(t);
            }
        }
        out.insert(m.clone(), targets);
    }
    out
}

/// Modules under `prefix` that import each other, directly or around a loop.
fn cycles(prefix: &str) -> Vec<Vec<String>> {
    let mods = modules();
    let edges = imports(&mods);
    let inside: Vec<&String> = mods.keys().filter(|m| m.starts_with(prefix)).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for t in edges.get(&m).into_iter().flatten() {
                if t.starts_with(prefix) && seen.insert(t.clone()) {
                    todo.push(t.clone());
                }
            }
        }
        seen
    };
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for m in &inside {
        let from_m = reach(m);
        if from_m.contains(*m) {
            let mut loop_: Vec<String> = inside
                .iter()
                .filter(|o| from_m.contains(**o) && reach(o).contains(*m))
                .map(|o| o.to_string())
                .collect();
            loop_.sort();
            found.insert(loop_);
        }
    }
    found.into_iter().collect()
}

#[test]
fn the_actor_tree_the_pure_core_and_the_ports_have_no_import_cycles() {
    for prefix in [
        "crate::actors",
        "crate::aws",
        "crate::k8s",
        "crate::plan",
        "crate::agent",
        "crate::supervision",
    ] {
        assert_eq!(cycles(prefix), Vec::<Vec<String>>::new(), "in {prefix}");
    }
}

/// A child actor speaks to its parent through events of its own type, so no module of
/// the actor tree imports one that contains it (a port's adapters may import the port).
#[test]
fn no_module_of_the_actor_tree_imports_its_parent() {
    let mods = modules();
    let edges = imports(&mods);
    let mut offenders = Vec::new();
    for (m, targets) in edges.iter().filter(|(m, _)| m.starts_with("crate::actors")) {
        for t in targets {
            if m.starts_with(&format!("{t}::")) {
                offenders.push(format!("{m} -> {t}"));
            }
        }
    }
    assert_eq!(offenders, Vec::<String>::new());
}

#[test]
fn plan_imports_neither_aws_nor_k8s() {
    let mods = modules();
    let edges = imports(&mods);
    for (m, targets) in edges.iter().filter(|(m, _)| m.starts_with("crate::plan")) {
        for t in targets {
            assert!(
                !t.starts_with("crate::aws") && !t.starts_with("crate::k8s"),
                "{m} imports {t}"
            );
        }
    }
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let mods: BTreeMap<String, String> = [
        (
            "crate::a".to_string(),
            "use super::b::{X, y::{self, Z}};".to_string(),
        ),
        (
            "crate::b".to_string(),
            "fn f() { crate::a::g() }".to_string(),
        ),
        ("crate::b::y".to_string(), String::new()),
    ]
    .into();
    let edges = imports(&mods);
    assert_eq!(
        edges["crate::a"],
        ["crate::b".to_string(), "crate::b::y".to_string()].into()
    );
    assert_eq!(edges["crate::b"], ["crate::a".to_string()].into());
}

/// Metrics are recorded under the catalogue's constants (`telemetry::metric`), each
/// described there once, never under a name spelled at the call site.
#[test]
fn metrics_are_recorded_under_catalogue_names_only() {
    let mut offenders = Vec::new();
    for (m, src) in modules() {
        for macro_ in ["counter!(", "gauge!(", "histogram!("] {
            for (i, _) in src.match_indices(macro_) {
                let arg = src[i + macro_.len()..].trim_start();
                if arg.starts_with('"') || arg.starts_with("format!") {
                    offenders.push(format!("{m}: {}", &arg[..arg.len().min(60)]));
                }
            }
        }
    }
    assert_eq!(offenders, Vec::<String>::new());
}
