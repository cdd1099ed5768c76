//! The dependency rule of docs/design.md, checked on the crate's own source parsed as Rust
//! (every `crate::…` path in `use` items, types and expressions), not by searching text.
//!
//! Layers, lowest first; a module may use its own layer and those below, never one above:
//! - base: `error`, `fsutil`, `net`, `redact`, `progress`, `yaml`, `ci`, `clock`, `git`
//! - `oci`
//! - domain: `build`, `sbom`, `scan`, `sign`, `evidence`, `policy`, `notify`, `db_artifact`
//! - `spec`: the pipeline file, resolved once
//! - `run`: the executor, the run context and the stages; `base_update`; `db_needs`
//! - `cli`
//!
//! `KNOWN` lists the edges that break the rule today, each one debt to pay. The test fails on
//! a new breach, and on a listed one that is gone (so the list only shrinks).

use std::collections::BTreeSet;
use std::path::Path;

use syn::visit::Visit;

const LAYERS: &[&[&str]] = &[
    &[
        "error", "fsutil", "net", "redact", "progress", "yaml", "ci", "clock", "git", "testing",
    ],
    &["oci"],
    &[
        "build",
        "sbom",
        "scan",
        "sign",
        "evidence",
        "policy",
        "notify",
        "db_artifact",
    ],
    &["spec"],
    &["run", "base_update", "db_needs"],
    &["cli"],
];

/// Names `src/lib.rs` re-exports at the crate root, and the module they come from.
const RE_EXPORTS: &[(&str, &str)] = &[("Error", "error"), ("ExitCode", "error")];

/// Breaches of the rule today: (from, to).
const KNOWN: &[(&str, &str)] = &[];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer: add it to LAYERS"))
}

/// Every `crate::<module>` a file names.
#[derive(Default)]
struct Uses(BTreeSet<String>);

impl<'ast> Visit<'ast> for Uses {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next()) {
            if first.ident == "crate" {
                self.0.insert(second.ident.to_string());
            }
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        fn walk(tree: &syn::UseTree, under_crate: bool, out: &mut BTreeSet<String>) {
            match tree {
                syn::UseTree::Path(p) if !under_crate && p.ident == "crate" => {
                    walk(&p.tree, true, out)
                }
                syn::UseTree::Path(p) if under_crate => {
                    out.insert(p.ident.to_string());
                }
                syn::UseTree::Name(n) if under_crate => {
                    out.insert(n.ident.to_string());
                }
                syn::UseTree::Rename(r) if under_crate => {
                    out.insert(r.ident.to_string());
                }
                syn::UseTree::Group(g) => {
                    for t in &g.items {
                        walk(t, under_crate, out);
                    }
                }
                _ => {}
            }
        }
        walk(&item.tree, false, &mut self.0);
    }
}

/// (module, file) for every `.rs` file under `src/`; `src/main.rs` and `src/lib.rs` excluded.
fn files(src: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    let mut todo = vec![src.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            if module == "main" || module == "lib" {
                continue;
            }
            out.push((module, path));
        }
    }
    out.sort();
    out
}

#[test]
fn modules_only_use_their_layer_and_those_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches: BTreeSet<(String, String)> = BTreeSet::new();
    for (module, path) in files(&src) {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let mut uses = Uses::default();
        uses.visit_file(&file);
        for target in uses.0 {
            let target = RE_EXPORTS
                .iter()
                .find(|(name, _)| *name == target)
                .map_or(target.clone(), |(_, m)| m.to_string());
            if target == module || target == "self" || target == "super" {
                continue;
            }
            if layer(&target) > layer(&module) {
                breaches.insert((module.clone(), target));
            }
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<_> = breaches.difference(&known).collect();
    let gone: Vec<_> = known.difference(&breaches).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "new breaches of the dependency rule (a module using a layer above its own): {new:?}\n\
         listed breaches that are gone (delete them from KNOWN): {gone:?}"
    );
}

/// module → the crate modules it names, re-exports resolved.
fn graph(src: &Path) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (module, path) in files(src) {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let mut uses = Uses::default();
        uses.visit_file(&file);
        let edges = out.entry(module.clone()).or_default();
        for target in uses.0 {
            let target = RE_EXPORTS
                .iter()
                .find(|(name, _)| *name == target)
                .map_or(target.clone(), |(_, m)| m.to_string());
            if target != module && target != "self" && target != "super" {
                edges.insert(target);
            }
        }
    }
    out
}

/// Within a layer modules may use each other, but never in a circle: the graph of top-level
/// modules is acyclic (so any of them can be read, tested or split out with what it uses).
#[test]
fn top_level_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit(
        m: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("module cycle: {} -> {m}", path[at..].join(" -> "));
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut vec![], &mut done);
    }
    // The check can fail: a graph with a cycle is refused.
    let mut cyclic = std::collections::BTreeMap::new();
    cyclic.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    cyclic.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    let caught =
        std::panic::catch_unwind(|| visit("a", &cyclic, &mut vec![], &mut BTreeSet::new()));
    assert!(caught.is_err(), "a two-module cycle was not found");
}

#[test]
fn every_module_is_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (module, _) in files(&src) {
        layer(&module);
    }
}
