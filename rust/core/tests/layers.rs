//! The core's layers, checked from its source: every file imports only from its own layer or the
//! layers below, and no files import each other in a circle.
//!
//! Layers, bottom up: the foundation (`error`, `params`, `rng`), `kernels/`, `backend/` (the
//! seam), `algo/`. `lib.rs` is the facade and may name anything. A file depends on another when
//! it names it by a `crate::` or `super::` path, or (a `mod.rs`) declares or re-exports it
//! (`mod x;`, `pub use x::…`). Comment lines and inline test modules are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a module path (`kernels::avx2::f64`), bottom = 0.
fn layer(module: &str) -> Option<usize> {
    match module.split("::").next()? {
        "error" | "params" | "rng" => Some(0),
        "kernels" => Some(1),
        "backend" => Some(2),
        "algo" => Some(3),
        _ => None,
    }
}

/// Every `.rs` file below `dir`, as (module path, file).
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
}

/// The identifiers of the `::`-separated path starting at `text` (`a::b::{c, d}` gives `a::b::c`
/// and `a::b::d`).
fn paths_at(text: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            let base = parts.iter().map(|p| format!("{p}::")).collect::<String>();
            return inner.split(',').map(|item| format!("{base}{}", ident(item.trim()))).collect();
        }
        let name = ident(rest);
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        parts.push(name);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    vec![parts.join("::")]
}

/// The module paths a file names (absolute, not yet resolved to a file).
fn references(module: &str, is_mod_rs: bool, source: &str) -> Vec<String> {
    // `super` of a mod.rs is its folder's parent; of a plain file, its folder.
    let mut parent: Vec<&str> = module.split("::").collect();
    if !is_mod_rs {
        parent.pop();
    }
    let sup = parent[..parent.len().saturating_sub(if is_mod_rs { 1 } else { 0 })].join("::");
    let mut found = Vec::new();
    // An inline test module (from `#[cfg(test)]` on) names its own file as `super`: not read.
    let lines = source.lines().map(str::trim).take_while(|l| *l != "#[cfg(test)]");
    for line in lines.filter(|l| !l.starts_with("//")) {
        for (prefix, base) in [("crate::", String::new()), ("super::", sup.clone())] {
            let mut from = 0;
            while let Some(at) = line[from..].find(prefix) {
                let start = from + at + prefix.len();
                let preceded = line[..from + at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
                if !preceded {
                    for path in paths_at(&line[start..]) {
                        found.push(if base.is_empty() { path } else { format!("{base}::{path}") });
                    }
                }
                from = start;
            }
        }
        // A mod.rs depends on the children it declares or re-exports.
        if is_mod_rs {
            let child = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "));
            let reexport = line.strip_prefix("pub use ").filter(|r| !r.starts_with("crate::"));
            if let Some(rest) = child.or(reexport) {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                found.push(format!("{module}::{name}"));
            }
        }
    }
    found
}

/// The file module a path lives in: its longest prefix that is a module.
fn resolve<'m>(path: &str, modules: &'m BTreeMap<String, PathBuf>) -> Option<&'m str> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find_map(|p| modules.get_key_value(&p).map(|(k, _)| k.as_str()))
}

/// File-to-file dependencies of the core, lib.rs left out.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&root, &root, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in files.iter().filter(|(m, _)| !m.is_empty()) {
        let is_mod_rs = file.file_name().is_some_and(|f| f == "mod.rs");
        let source = std::fs::read_to_string(file).unwrap();
        let targets = edges.entry(module.clone()).or_default();
        for path in references(module, is_mod_rs, &source) {
            if let Some(target) = resolve(&path, &files).filter(|t| !t.is_empty() && t != module) {
                targets.insert(target.to_owned());
            }
        }
    }
    edges
}

/// "from -> to" for every import from a lower layer to a higher one.
fn upward(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for (from, targets) in edges {
        let own = layer(from).unwrap_or_else(|| panic!("{from}: a file outside the known layers"));
        found
            .extend(targets.iter().filter(|to| layer(to).is_some_and(|l| l > own)).map(|to| format!("{from} -> {to}")));
    }
    found
}

/// A circle of files, if any (depth-first search: a back edge closes one).
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some(stack[at..].iter().cloned().chain([node.to_owned()]).collect());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn every_file_imports_only_its_own_layer_or_lower_ones() {
    let edges = graph();
    assert!(edges.len() > 15, "the source tree was read ({} files)", edges.len());
    let found = upward(&edges);
    assert!(found.is_empty(), "imports from a lower layer to a higher one:\n{}", found.join("\n"));
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    if let Some(circle) = find_circle(&graph()) {
        panic!("an import circle: {}", circle.join(" -> "));
    }
}

#[test]
fn the_checker_sees_an_upward_import_and_a_circle() {
    // The parser, on made-up sources.
    let refs = references("kernels::sums", false, "use crate::backend::rows::{Data, Rows};\n// crate::algo::x");
    assert_eq!(refs, ["backend::rows::Data", "backend::rows::Rows"]);
    let refs = references("kernels::avx2::f64", false, "use super::{row_groups, MR};");
    assert_eq!(refs, ["kernels::avx2::row_groups", "kernels::avx2::MR"]);
    let refs = references("kernels::avx2", true, "pub mod f64;\nuse super::parallel::ROW_BLOCK;");
    assert_eq!(refs, ["kernels::avx2::f64", "kernels::parallel::ROW_BLOCK"]);
    // The checks, on made-up graphs.
    let graph = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(
        upward(&graph(&[("kernels::sums", "backend::rows"), ("algo::lloyd", "kernels::sums")])),
        ["kernels::sums -> backend::rows"]
    );
    let circle = graph(&[("kernels::a", "kernels::b"), ("kernels::b", "kernels::c"), ("kernels::c", "kernels::a")]);
    assert_eq!(find_circle(&circle).unwrap().len(), 4);
    assert!(find_circle(&graph(&[("kernels::a", "kernels::b"), ("kernels::a", "kernels::c")])).is_none());
}
