//! cleanpipe: one Git commit in, one signed image digest out, with the evidence to prove it.
//!
//! The library is layered like go-containerregistry (docs/design.md): [`oci`] knows
//! images, layouts and registries; [`build`], [`sbom`], [`scan`], [`sign`], [`evidence`] and
//! [`policy`] are the domain; [`spec`] resolves the pipeline file once; [`run`] runs the five
//! stages over it. Only [`cli`] prints to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod base_update;
pub mod build;
pub mod ci;
pub mod cli;
pub mod clock;
pub mod db_artifact;
pub mod db_needs;
pub mod error;
pub mod evidence;
pub mod fsutil;
pub mod git;
pub mod net;
pub mod notify;
pub mod oci;
pub mod policy;
pub mod progress;
pub mod redact;
pub mod run;
pub mod sbom;
pub mod scan;
pub mod sign;
pub mod spec;
#[cfg(test)]
mod testing;
pub mod yaml;

pub use error::{Error, ExitCode};

#[cfg(test)]
mod layering {
    /// Library modules never reach up into the CLI (docs/style.md §1): only `cli/` and `main.rs` may.
    #[test]
    fn library_modules_do_not_import_cli() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p)
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![];
        walk(&src, &mut files);
        for f in files {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            if rel.starts_with("cli") || rel == "main.rs" || rel == "lib.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(!text.contains("crate::cli"), "{rel} imports the CLI layer");
        }
    }
}
