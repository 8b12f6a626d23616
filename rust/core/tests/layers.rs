//! The core's layers, checked from its source: every file imports only from its own layer or the
//! layers below, and no files import each other in a circle.
//!
//! Layers, bottom up: the foundation (`error`, `params`, `rng`), `kernels/`, `backend/` (the
//! seam), `algo/`. `lib.rs` is the facade and may name anything. A file depends on another when
//! it names it by a `crate::` or `super::` path (use-trees with nested groups and `super::super`
//! included; a name lib.rs re-exports is followed to its module), or (a `mod.rs`) declares or
//! uses a child (`mod x;`, `pub use x::…`). Comment lines and the inline test module are not read.

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

/// The source without comment lines and without its inline test module (`#[cfg(test)]` then
/// `mod tests { … }`, whose `super` is the file itself).
fn code(source: &str) -> String {
    let mut text: String =
        source.lines().filter(|l| !l.trim_start().starts_with("//")).flat_map(|l| [l, "\n"]).collect();
    while let Some(at) = text.find("#[cfg(test)]") {
        let rest = &text[at + "#[cfg(test)]".len()..];
        let Some(open) = rest.trim_start().strip_prefix("mod tests").and_then(|r| r.trim_start().strip_prefix('{'))
        else {
            // Some other item under cfg(test): keep reading past the attribute.
            text.replace_range(at..at + "#[cfg(test)]".len(), "");
            continue;
        };
        let body_start = text.len() - open.len();
        let mut depth = 1;
        let mut end = body_start;
        for (i, c) in text[body_start..].char_indices() {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            if depth == 0 {
                end = body_start + i + 1;
                break;
            }
        }
        text.replace_range(at..end.max(body_start), "");
    }
    text
}

/// The paths of the use-tree at the start of `text` (`a::b::{c, d::{e, f}}` gives `a::b::c`,
/// `a::b::d::e`, `a::b::d::f`; whitespace and newlines allowed), each prefixed by `prefix`.
fn tree(text: &str, prefix: &[String], out: &mut Vec<String>) -> usize {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let skip_ws = |s: &str, at: usize| at + s[at..].len() - s[at..].trim_start().len();
    let mut path = prefix.to_vec();
    let mut at = skip_ws(text, 0);
    loop {
        if text[at..].starts_with('{') {
            at += 1;
            loop {
                at = skip_ws(text, at);
                if text[at..].starts_with('}') || at >= text.len() {
                    return at + 1;
                }
                at += tree(&text[at..], &path, out);
                at = skip_ws(text, at);
                if text[at..].starts_with(',') {
                    at += 1;
                }
            }
        }
        let name = ident(&text[at..]);
        if name.is_empty() {
            // `*`, or the end of a path such as `self`: the prefix itself.
            out.push(path.join("::"));
            return at;
        }
        at += name.len();
        if name != "self" {
            path.push(name);
        }
        let after = skip_ws(text, at);
        match text[after..].strip_prefix("::") {
            Some(_) => at = skip_ws(text, after + 2),
            None => {
                out.push(path.join("::"));
                return at;
            }
        }
    }
}

/// The module paths a file names (absolute, not yet resolved to a file).
fn references(module: &str, is_mod_rs: bool, source: &str) -> Vec<String> {
    let text = code(source);
    // Each `super` is one module up from this file's module (a mod.rs is its folder's module).
    let here: Vec<String> = module.split("::").filter(|p| !p.is_empty()).map(str::to_owned).collect();
    let mut found = Vec::new();
    let boundary = |at: usize| text[..at].chars().last().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
    let mut from = 0;
    while let Some(at) = text[from..].find("crate::").map(|a| a + from) {
        if boundary(at) {
            tree(&text[at + "crate::".len()..], &[], &mut found);
        }
        from = at + 1;
    }
    let mut from = 0;
    while let Some(at) = text[from..].find("super::").map(|a| a + from) {
        if boundary(at) {
            let mut base = here.clone();
            let mut rest = &text[at..];
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            let consumed = text.len() - rest.len();
            tree(rest, &base, &mut found);
            from = consumed;
        } else {
            from = at + 1;
        }
    }
    // A mod.rs depends on the children it declares, re-exports or uses by relative path.
    if is_mod_rs {
        for line in text.lines().map(str::trim) {
            let line = line.strip_prefix("pub(crate) ").or_else(|| line.strip_prefix("pub ")).unwrap_or(line);
            if let Some(rest) = line.strip_prefix("mod ").or_else(|| line.strip_prefix("use ")) {
                if !rest.starts_with("crate::") && !rest.starts_with("super::") && !rest.starts_with("std::") {
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    found.push(format!("{module}::{name}"));
                }
            }
        }
    }
    found
}

/// The file module a path lives in: its longest prefix that is a module; a name the crate root
/// re-exports (`crate::Rows`) is followed to where it lives.
fn resolve<'m>(path: &str, modules: &'m BTreeMap<String, PathBuf>, root: &BTreeMap<String, String>) -> Option<&'m str> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let first = parts.first().copied().unwrap_or_default();
    let target;
    if !modules.contains_key(first) {
        if let Some(home) = root.get(first) {
            target = home.clone();
            parts = target.split("::").collect();
        }
    }
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find_map(|p| modules.get_key_value(&p).map(|(k, _)| k.as_str()))
}

/// What lib.rs re-exports: item name -> the module path it comes from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut paths = Vec::new();
    for statement in code(lib).split(';') {
        if let Some(tree_text) = statement.trim().strip_prefix("pub use ") {
            tree(tree_text, &[], &mut paths);
        }
    }
    paths.into_iter().filter_map(|p| p.rsplit_once("::").map(|(m, name)| (name.to_owned(), m.to_owned()))).collect()
}

/// File-to-file dependencies of the core, lib.rs left out.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&root, &root, &mut files);
    let root = root_reexports(&std::fs::read_to_string(&files[""]).unwrap());
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in files.iter().filter(|(m, _)| !m.is_empty()) {
        let is_mod_rs = file.file_name().is_some_and(|f| f == "mod.rs");
        let source = std::fs::read_to_string(file).unwrap();
        let targets = edges.entry(module.clone()).or_default();
        for path in references(module, is_mod_rs, &source) {
            if let Some(target) = resolve(&path, &files, &root).filter(|t| !t.is_empty() && t != module) {
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
    // The parser, on made-up sources (sorted: the order found does not matter).
    let refs = |module: &str, is_mod_rs: bool, source: &str| {
        let mut found = references(module, is_mod_rs, source);
        found.sort();
        found
    };
    let source = "use crate::backend::rows::{Data, Rows};\n// crate::algo::x";
    assert_eq!(refs("kernels::sums", false, source), ["backend::rows::Data", "backend::rows::Rows"]);
    assert_eq!(
        refs("kernels::avx2::f64", false, "use super::{row_groups, MR};"),
        ["kernels::avx2::MR", "kernels::avx2::row_groups"]
    );
    assert_eq!(
        refs("kernels::avx2", true, "pub(crate) mod f64;\nuse super::parallel::ROW_BLOCK;"),
        ["kernels::avx2::f64", "kernels::parallel::ROW_BLOCK"]
    );
    // Nested and multi-line groups, `super::super`, an inline path in code.
    let source = "use crate::{\n    kernels::{points::P, sums},\n    algo::lloyd::fit,\n};\nfn f() { super::super::super::algo::x(); }";
    assert_eq!(
        refs("kernels::avx2::f64", false, source),
        ["algo::lloyd::fit", "algo::x", "kernels::points::P", "kernels::sums"]
    );
    // Only the test module is skipped; code after it is read.
    let source =
        "#[cfg(test)]\nmod tests {\n    use super::*;\n    fn g() { crate::algo::y(); }\n}\nuse crate::backend::Z;";
    assert_eq!(refs("kernels::sums", false, source), ["backend::Z"]);
    // A name re-exported by lib.rs is followed to its module.
    let root = root_reexports("pub use algo::lloyd::{fit_lloyd, lloyd};\npub use backend::{Backend, Rows};");
    assert_eq!(root.get("fit_lloyd").map(String::as_str), Some("algo::lloyd"));
    assert_eq!(root.get("Rows").map(String::as_str), Some("backend"));
    assert_eq!(layer("kernels::sums"), Some(1));
    assert_eq!(layer("algo::lloyd"), Some(3));
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
