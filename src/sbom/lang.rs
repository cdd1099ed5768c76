//! Catalogers for language ecosystems read from their installed metadata: Ruby gems, PHP
//! Composer, .NET `deps.json`, npm lockfiles of installed apps, and language runtimes installed
//! without a package manager.
//!
//! What each one reads, and the decisions behind it:
//!
//! - **Ruby** (`gem`): every installed specification, `…/specifications/<name>-<version>.gemspec`
//!   (and `specifications/default/` for Ruby's default gems), as RubyGems writes it on install:
//!   `s.name = "rake".freeze`, `s.version = "13.0.6"`, `s.licenses = ["MIT".freeze]`. Bundler's
//!   `Gemfile.lock` (or `gems.locked`) of an app adds only what no installed gemspec in the image
//!   already names with the same version: `bundle install` writes a gemspec for every gem it
//!   installs from a `GEM` source, but where (`BUNDLE_PATH`, `GEM_HOME`, `vendor/bundle`) is not
//!   tied to the app's directory, so the match is image-wide by name and version. What remains is
//!   mostly gems from `GIT` sources, which Bundler checks out without writing a specification.
//!   `PATH` gems are the app's own code and are not looked up. Lockfiles inside installed gems
//!   (a `gems/` directory) are those gems' development lockfiles and are not read.
//! - **PHP** (`composer`): `vendor/composer/installed.json`, both Composer 1's array and
//!   Composer 2's `{"packages": […]}`. Versions are kept as written (`v5.4.0`).
//! - **.NET** (`nuget`): `*.deps.json` `libraries` of type `package`, and the runtime pack of a
//!   self-contained app (`runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0`, listed
//!   without its `runtimepack.` prefix, the NuGet package advisories name).
//! - **npm lockfiles** (`npm`): `package-lock.json` (lockfile versions 1, 2 and 3) and
//!   `npm-shrinkwrap.json` outside `node_modules/`. An entry whose `node_modules` slot, or whose
//!   name and version, the npm cataloger already found installed under the same app is not
//!   counted again. Of the rest, what `npm ci` would leave out is not counted either: links,
//!   workspace sources, development dependencies, packages for another OS or CPU and, when the
//!   app's `node_modules` is present, optional ones that are absent.
//! - **Runtimes** (`runtime`, `pkg:generic`): a JDK or JRE by its `release` file in a
//!   java-looking directory, Node by `<prefix>/include/node/node_version.h`, CPython by
//!   `<prefix>/include/python3.X/patchlevel.h`. The interpreters themselves are never kept (Node
//!   is about 90 MB), so their presence is read from what their installation puts beside them:
//!   the `bin/` symlinks (`python3 -> python3.12`, `npm -> ../lib/node_modules/…`, `nodejs`) and
//!   Python's `lib/python3.X/os.py`. A runtime found that way without a readable version is
//!   listed as not catalogued. Under `/usr` (and `/usr/lib/jvm`) a runtime the distribution's
//!   package manager installed is already catalogued as that package, and is skipped.
//!
//! A file that should list packages but cannot be read becomes an
//! [`Uncatalogued`] entry naming the problem, never a partial list; an entry without a name or
//! version inside an otherwise readable file becomes a warning.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::sbom::catalog::{Catalog, Kind, Package, Uncatalogued};
use crate::sbom::fs::{FileRecord, ImageFs};
use crate::sbom::purl;

/// Which files these catalogers need (see [`crate::sbom::catalog::wanted`]).
pub fn wanted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name {
        "Gemfile.lock" | "gems.locked" => !has_component(path, &["gems", "node_modules"]),
        "package-lock.json" | "npm-shrinkwrap.json" => !has_component(path, &["node_modules"]),
        "installed.json" => {
            path == "vendor/composer/installed.json"
                || path.ends_with("/vendor/composer/installed.json")
        }
        "release" => is_jdk_dir(parent(path)),
        "node_version.h" => path.ends_with("include/node/node_version.h"),
        "patchlevel.h" => python_dir(parent(path), "include").is_some(),
        "os.py" => python_dir(parent(path), "lib").is_some(),
        _ => {
            (name.ends_with(".gemspec") && is_specifications_dir(parent(path)))
                || name.ends_with(".deps.json")
        }
    }
}

/// Add what these catalogers find in `fs` to `out`.
pub fn catalog(fs: &ImageFs, out: &mut Catalog) {
    let installed_gems = gemspecs(fs, out);
    gemfile_locks(fs, &installed_gems, out);
    composer(fs, out);
    deps_json(fs, out);
    npm_locks(fs, out);
    jdks(fs, out);
    node(fs, out);
    python(fs, out);
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn has_component(path: &str, names: &[&str]) -> bool {
    path.split('/').any(|c| names.contains(&c))
}

fn is_specifications_dir(dir: &str) -> bool {
    let dir = dir.strip_suffix("/default").unwrap_or(dir);
    dir == "specifications" || dir.ends_with("/specifications")
}

/// For `<prefix>/<under>/python3.X` (`include/python3.12`, `include/python3.7m`), `(prefix, "3.X")`.
fn python_dir<'a>(dir: &'a str, under: &str) -> Option<(&'a str, &'a str)> {
    let (rest, last) = dir.rsplit_once('/').unwrap_or(("", dir));
    let minor = last.strip_prefix("python")?;
    let digits = minor.trim_end_matches(['m', 't', 'd', 'u']);
    let (major, min) = digits.split_once('.')?;
    if major != "3" || min.is_empty() || !min.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix = if rest == under {
        ""
    } else {
        rest.strip_suffix(under)?.strip_suffix('/')?
    };
    Some((prefix, digits))
}

/// A directory a JDK's `release` file lives in: some component names Java.
fn is_jdk_dir(dir: &str) -> bool {
    dir.split('/').any(|c| {
        let c = c.to_ascii_lowercase();
        [
            "java", "jdk", "jre", "jvm", "temurin", "corretto", "zulu", "graalvm",
        ]
        .iter()
        .any(|w| c.contains(w))
    })
}

fn uncatalogued(out: &mut Catalog, ecosystem: &str, path: &str, rec: &FileRecord, reason: String) {
    out.uncatalogued.push(Uncatalogued {
        ecosystem: ecosystem.into(),
        path: format!("/{path}"),
        layer: rec.layer.clone(),
        reason,
    });
}

fn json(rec: &FileRecord) -> Result<Value, String> {
    serde_json::from_slice(&rec.content).map_err(|e| format!("not valid JSON ({e})"))
}

fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// Whether a distribution package (deb, apk, rpm) satisfies `pred`: the runtime is then the
/// package manager's, already catalogued.
fn distro_has(out: &Catalog, pred: impl Fn(&Package) -> bool) -> bool {
    out.packages
        .iter()
        .any(|p| matches!(p.kind, Kind::Deb | Kind::Apk | Kind::Rpm) && pred(p))
}

// ---------------------------------------------------------------------------------------------
// Ruby

/// Catalog installed gemspecs; returns the `(name, version)` pairs found.
fn gemspecs(fs: &ImageFs, out: &mut Catalog) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, rec) in fs
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".gemspec") && is_specifications_dir(parent(p)))
    {
        let text = String::from_utf8_lossy(&rec.content);
        match gemspec(&text) {
            Ok((name, version, licenses)) => {
                let purl = purl::gem(&name, &version);
                out.packages.push(Package::language(
                    Kind::Gem,
                    &name,
                    &version,
                    licenses,
                    path,
                    rec,
                    purl,
                ));
                found.insert((name, version));
            }
            Err(why) => uncatalogued(out, "RubyGems", path, rec, why),
        }
    }
    found
}

/// Name, version and licenses of a gemspec as RubyGems writes it when installing a gem.
fn gemspec(text: &str) -> Result<(String, String, Vec<String>), String> {
    let mut name = None;
    let mut version = None;
    let mut licenses = None;
    let mut stub = None;
    for line in text.lines() {
        // `# stub: rake 13.0.6 ruby lib`: the same identity, for when the assignments are not literals.
        if let Some(s) = line.strip_prefix("# stub: ") {
            let mut f = s.split_whitespace();
            stub = f.next().zip(f.next());
        }
        if name.is_none() {
            name = assignment(line, "name").and_then(ruby_string);
        }
        if version.is_none() {
            version = assignment(line, "version").and_then(ruby_string);
        }
        if licenses.is_none() {
            licenses = assignment(line, "licenses")
                .and_then(ruby_strings)
                .or_else(|| {
                    assignment(line, "license")
                        .and_then(ruby_string)
                        .map(|l| vec![l])
                });
        }
    }
    let name = name.or_else(|| stub.map(|(n, _)| n.to_string()));
    let version = version.or_else(|| stub.map(|(_, v)| v.to_string()));
    match (
        name.filter(|n| !n.is_empty()),
        version.filter(|v| !v.is_empty()),
    ) {
        (Some(n), Some(v)) => Ok((n, v, licenses.unwrap_or_default())),
        (None, _) => Err("a gemspec without a literal `name`: its gem is not catalogued".into()),
        (_, None) => Err("a gemspec without a literal `version`: its gem is not catalogued".into()),
    }
}

/// The right-hand side of `<receiver>.<field> = …` on `line`, if that is what the line is.
fn assignment<'a>(line: &'a str, field: &str) -> Option<&'a str> {
    let t = line.trim_start();
    let (receiver, rest) = t.split_once('.')?;
    if receiver.is_empty()
        || !receiver
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let rest = rest.strip_prefix(field)?.trim_start().strip_prefix('=')?;
    (!rest.starts_with(['=', '~', '>'])).then_some(rest)
}

/// The string a Ruby expression evaluates to: `"x"`, `'x'`, `%q{x}`, optionally `.freeze`d or
/// wrapped in `Gem::Version.new(…)`.
fn ruby_string(expr: &str) -> Option<String> {
    let e = expr.trim_start();
    let e = match e.strip_prefix("Gem::Version.new") {
        Some(rest) => rest.trim_start().trim_start_matches('(').trim_start(),
        None => e,
    };
    ruby_literal(e).map(|(s, _)| s)
}

/// The strings of a Ruby array literal of string literals (`["MIT".freeze, "Ruby".freeze]`).
fn ruby_strings(expr: &str) -> Option<Vec<String>> {
    let mut rest = expr.trim_start().strip_prefix('[')?;
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        if rest.starts_with(']') {
            return Some(out);
        }
        let (s, after) = ruby_literal(rest)?;
        out.push(s);
        rest = after.strip_prefix(".freeze").unwrap_or(after);
    }
}

/// A Ruby string literal at the start of `e`, and what follows it.
fn ruby_literal(e: &str) -> Option<(String, &str)> {
    let mut chars = e.char_indices();
    let (_, open) = chars.next()?;
    let (close, escapes) = match open {
        '"' => ('"', true),
        '\'' => ('\'', false),
        '%' => {
            let (_, mut c) = chars.next()?;
            if c == 'q' || c == 'Q' {
                c = chars.next()?.1;
            }
            let close = match c {
                '{' => '}',
                '(' => ')',
                '[' => ']',
                '<' => '>',
                c if c.is_ascii_punctuation() => c,
                _ => return None,
            };
            (close, false)
        }
        _ => return None,
    };
    let mut s = String::new();
    while let Some((i, c)) = chars.next() {
        if c == close {
            return Some((s, &e[i + c.len_utf8()..]));
        }
        if c != '\\' {
            s.push(c);
            continue;
        }
        let (_, esc) = chars.next()?;
        if !escapes {
            if esc != close && esc != '\\' {
                s.push('\\');
            }
            s.push(esc);
            continue;
        }
        match esc {
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            'e' => s.push('\u{1b}'),
            's' => s.push(' '),
            '0' => s.push('\0'),
            'u' => {
                let rest = chars.as_str();
                let (hex, used) = match rest.strip_prefix('{') {
                    Some(r) => {
                        let end = r.find('}')?;
                        (&r[..end], end + 2)
                    }
                    None => (rest.get(..4)?, 4),
                };
                s.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                for _ in 0..rest[..used].chars().count() {
                    chars.next();
                }
            }
            c => s.push(c),
        }
    }
    None
}

/// Bundler lockfiles: the gems of `GEM` and `GIT` sources not already catalogued as installed.
fn gemfile_locks(fs: &ImageFs, installed: &BTreeSet<(String, String)>, out: &mut Catalog) {
    for (path, rec) in fs.files.iter().filter(|(p, _)| {
        let name = p.rsplit('/').next().unwrap_or(p);
        (name == "Gemfile.lock" || name == "gems.locked") && wanted(p)
    }) {
        let text = String::from_utf8_lossy(&rec.content);
        let mut sections = 0;
        let mut section = "";
        let mut in_specs = false;
        let mut gems = Vec::new();
        let mut bad = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if !line.starts_with(' ') {
                section = line.trim();
                in_specs = false;
                if matches!(section, "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE") {
                    sections += 1;
                }
                continue;
            }
            if line == "  specs:" {
                in_specs = true;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if !in_specs || indent != 4 || !matches!(section, "GEM" | "GIT") {
                continue;
            }
            match lock_spec(line.trim()) {
                Some(g) => gems.push(g),
                None => bad.push(n + 1),
            }
        }
        if sections == 0 {
            uncatalogued(
                out,
                "RubyGems",
                path,
                rec,
                "not a Bundler lockfile (no `GEM`, `GIT` or `PATH` section): its gems are not \
                 catalogued"
                    .into(),
            );
            continue;
        }
        for n in bad {
            out.warnings.push(format!(
                "/{path}: line {n} is not `name (version)`; skipped"
            ));
        }
        for (name, version) in gems {
            if installed.contains(&(name.to_string(), version.to_string())) {
                continue;
            }
            let purl = purl::gem(name, version);
            out.packages.push(Package::language(
                Kind::Gem,
                name,
                version,
                vec![],
                path,
                rec,
                purl,
            ));
        }
    }
}

/// `nokogiri (1.15.4-x86_64-linux)` → `("nokogiri", "1.15.4")`: the platform is not part of the
/// version advisories name.
fn lock_spec(line: &str) -> Option<(&str, &str)> {
    let (name, rest) = line.split_once(" (")?;
    let full = rest.strip_suffix(')')?;
    let version = match full.split_once('-') {
        Some((v, platform))
            if [
                "linux",
                "darwin",
                "mingw",
                "mswin",
                "java",
                "x86",
                "x64",
                "arm",
                "aarch64",
                "universal",
            ]
            .iter()
            .any(|p| platform.contains(p)) =>
        {
            v
        }
        _ => full,
    };
    (!name.is_empty() && !name.contains(' ') && !version.is_empty()).then_some((name, version))
}

// ---------------------------------------------------------------------------------------------
// PHP

fn composer(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in fs
        .files
        .iter()
        .filter(|(p, _)| p.ends_with("vendor/composer/installed.json") && wanted(p))
    {
        let doc = match json(rec) {
            Ok(doc) => doc,
            Err(why) => {
                uncatalogued(
                    out,
                    "Packagist",
                    path,
                    rec,
                    format!("{why}: its packages are not catalogued"),
                );
                continue;
            }
        };
        // Composer 1 writes an array; Composer 2 an object with `packages`.
        let Some(packages) = doc.as_array().or_else(|| doc["packages"].as_array()) else {
            uncatalogued(
                out,
                "Packagist",
                path,
                rec,
                "neither a Composer 1 array nor a Composer 2 object with `packages`: its packages \
                 are not catalogued"
                    .into(),
            );
            continue;
        };
        for (i, p) in packages.iter().enumerate() {
            let (Some(name), Some(version)) = (non_empty(&p["name"]), non_empty(&p["version"]))
            else {
                out.warnings.push(format!(
                    "/{path}: package {} has no name or version; skipped",
                    i + 1
                ));
                continue;
            };
            let licenses = match &p["license"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|l| l.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            };
            let purl = purl::composer(name, version);
            out.packages.push(Package::language(
                Kind::Composer,
                name,
                version,
                licenses,
                path,
                rec,
                purl,
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// .NET

fn deps_json(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in fs.files.iter().filter(|(p, _)| p.ends_with(".deps.json")) {
        let doc = match json(rec) {
            Ok(doc) => doc,
            Err(why) => {
                uncatalogued(
                    out,
                    "NuGet",
                    path,
                    rec,
                    format!("{why}: its packages are not catalogued"),
                );
                continue;
            }
        };
        let Some(libraries) = doc["libraries"].as_object() else {
            uncatalogued(
                out,
                "NuGet",
                path,
                rec,
                "no `libraries` object: its packages are not catalogued".into(),
            );
            continue;
        };
        for (key, lib) in libraries {
            // `project` entries are the app itself and the projects of its own solution (and
            // `reference` ones plain assemblies): not NuGet packages, so a lookup by name could
            // only match an unrelated package of the same name. syft lists the root project.
            let key = match lib["type"].as_str() {
                Some("package") => key.as_str(),
                Some("runtimepack") => key.strip_prefix("runtimepack.").unwrap_or(key),
                _ => continue,
            };
            let Some((name, version)) = key
                .split_once('/')
                .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
            else {
                out.warnings.push(format!(
                    "/{path}: library `{key}` is not `name/version`; skipped"
                ));
                continue;
            };
            let purl = purl::nuget(name, version);
            out.packages.push(Package::language(
                Kind::Nuget,
                name,
                version,
                vec![],
                path,
                rec,
                purl,
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// npm lockfiles

/// One lockfile entry, normalised across lockfile versions.
struct LockEntry<'a> {
    /// `node_modules/a/node_modules/b`, relative to the app directory.
    slot: String,
    name: String,
    version: Option<&'a str>,
    entry: &'a Value,
}

fn npm_locks(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in fs.files.iter().filter(|(p, _)| {
        let name = p.rsplit('/').next().unwrap_or(p);
        (name == "package-lock.json" || name == "npm-shrinkwrap.json") && wanted(p)
    }) {
        let doc = match json(rec) {
            Ok(doc) => doc,
            Err(why) => {
                uncatalogued(
                    out,
                    "npm",
                    path,
                    rec,
                    format!("{why}: its packages are not catalogued"),
                );
                continue;
            }
        };
        let mut entries = Vec::new();
        if let Some(packages) = doc["packages"].as_object() {
            // Lockfile versions 2 and 3: keyed by install path.
            for (key, entry) in packages {
                let Some((_, last)) = key.rsplit_once("node_modules/") else {
                    continue; // the root project (`""`) and workspace sources
                };
                entries.push(LockEntry {
                    slot: key.clone(),
                    name: non_empty(&entry["name"]).unwrap_or(last).to_string(),
                    version: non_empty(&entry["version"]),
                    entry,
                });
            }
        } else if let Some(deps) = doc["dependencies"].as_object() {
            lock_v1(deps, "", &mut entries);
        } else if doc["lockfileVersion"].is_null() {
            uncatalogued(
                out,
                "npm",
                path,
                rec,
                "no `lockfileVersion`, `packages` or `dependencies`: its packages are not \
                 catalogued"
                    .into(),
            );
            continue;
        }
        // What the npm cataloger found installed under this app, workspaces' `node_modules`
        // included, by slot relative to the app directory.
        let app = match parent(path) {
            "" => "/".to_string(),
            dir => format!("/{dir}/"),
        };
        let installed: Vec<&Package> = out
            .packages
            .iter()
            .filter(|p| {
                p.kind == Kind::Npm
                    && p.location.starts_with(&app)
                    && p.location.contains("node_modules/")
            })
            .collect();
        let slots: BTreeSet<&str> = installed
            .iter()
            .filter_map(|p| p.location.strip_suffix("/package.json"))
            .map(|l| &l[app.len()..])
            .collect();
        let versions: BTreeSet<(&str, &str)> = installed
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        let app_installed = !installed.is_empty();
        let mut add = Vec::new();
        for e in &entries {
            let flag = |k: &str| e.entry[k].as_bool() == Some(true);
            if flag("link") || slots.contains(e.slot.as_str()) {
                continue;
            }
            if e.version
                .is_some_and(|v| versions.contains(&(e.name.as_str(), v)))
            {
                continue;
            }
            // Left out by `npm ci --omit=dev`, or never installed on this platform.
            if flag("dev") || flag("devOptional") || !for_linux(e.entry) {
                continue;
            }
            // An absent optional dependency failed or was skipped; one built for a platform
            // (`@esbuild/linux-arm64`) is one of a set of which at most one is installed.
            let platform_build = e.entry.get("os").is_some() || e.entry.get("cpu").is_some();
            if flag("optional") && (app_installed || platform_build) {
                continue;
            }
            let version = match e.version {
                Some(v) if v.starts_with("file:") => continue, // lockfile 1's links
                Some(v) if !v.starts_with(|c: char| c.is_ascii_digit()) => {
                    out.warnings.push(format!(
                        "/{path}: `{}` has version `{v}`, not from the registry; skipped",
                        e.slot
                    ));
                    continue;
                }
                Some(v) => v,
                None => {
                    out.warnings
                        .push(format!("/{path}: `{}` has no version; skipped", e.slot));
                    continue;
                }
            };
            add.push(Package::language(
                Kind::Npm,
                &e.name,
                version,
                vec![],
                path,
                rec,
                purl::npm(&e.name, version),
            ));
        }
        out.packages.extend(add);
    }
}

/// Lockfile version 1: `dependencies` nest as the `node_modules` directories do.
fn lock_v1<'a>(deps: &'a serde_json::Map<String, Value>, at: &str, out: &mut Vec<LockEntry<'a>>) {
    for (name, entry) in deps {
        let slot = format!("{at}node_modules/{name}");
        let version = non_empty(&entry["version"]);
        // An alias (`"version": "npm:lodash@4.17.21"`) installs another package.
        let (name, version) = match version
            .and_then(|v| v.strip_prefix("npm:"))
            .and_then(|v| v.rsplit_once('@'))
            .filter(|(n, _)| !n.is_empty())
        {
            Some((real, v)) => (real.to_string(), Some(v)),
            None => (name.clone(), version),
        };
        out.push(LockEntry {
            slot: slot.clone(),
            name,
            version,
            entry,
        });
        if let Some(nested) = entry["dependencies"].as_object() {
            lock_v1(nested, &format!("{slot}/"), out);
        }
    }
}

/// Whether an entry's `os` and `cpu` (`["darwin"]`, `["!win32"]`) allow Linux at all.
fn for_linux(entry: &Value) -> bool {
    let Some(os) = entry["os"].as_array() else {
        return true;
    };
    let os: Vec<&str> = os.iter().filter_map(Value::as_str).collect();
    let allowed: Vec<&&str> = os.iter().filter(|o| !o.starts_with('!')).collect();
    !os.contains(&"!linux") && (allowed.is_empty() || allowed.contains(&&"linux"))
}

// ---------------------------------------------------------------------------------------------
// Runtimes

/// `KEY="value"` lines (a JDK's `release` file).
fn key_values(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect()
}

fn runtime(name: &str, version: &str, path: &str, rec: &FileRecord) -> Package {
    Package::language(
        Kind::Runtime,
        name,
        version,
        vec![],
        path,
        rec,
        purl::generic(name, version),
    )
}

fn jdks(fs: &ImageFs, out: &mut Catalog) {
    for (path, rec) in fs
        .files
        .iter()
        .filter(|(p, _)| p.ends_with("/release") && is_jdk_dir(parent(p)))
    {
        let text = String::from_utf8_lossy(&rec.content);
        let kv = key_values(&text);
        let version = kv.get("JAVA_VERSION").copied().filter(|v| !v.is_empty());
        let looks_like_jdk = version.is_some()
            || [
                "IMPLEMENTOR",
                "JAVA_RUNTIME_VERSION",
                "MODULES",
                "JAVA_FULL_VERSION",
            ]
            .iter()
            .any(|k| kv.contains_key(k));
        if !looks_like_jdk {
            continue; // some other `release` file
        }
        let major = version.map(java_major).unwrap_or_default();
        if path.starts_with("usr/lib/jvm/")
            && distro_has(out, |p| {
                let n = p.name.to_ascii_lowercase();
                (n.contains("jdk") || n.contains("jre") || n.contains("java"))
                    && (major.is_empty()
                        || n.split(|c: char| !c.is_ascii_digit()).any(|t| t == major))
            })
        {
            continue; // the distribution's JDK package
        }
        let Some(version) = version else {
            uncatalogued(
                out,
                "runtime",
                path,
                rec,
                "a JDK `release` file without `JAVA_VERSION`: the JDK's version is unknown".into(),
            );
            continue;
        };
        // Oracle's commercial JDK says so; every other build (Temurin, Corretto, Zulu, the
        // `openjdk` images, whose IMPLEMENTOR is also Oracle) is OpenJDK.
        let name = if kv.get("BUILD_TYPE") == Some(&"commercial") {
            let jre = kv
                .get("IMAGE_TYPE")
                .is_some_and(|t| t.eq_ignore_ascii_case("jre"))
                || parent(path)
                    .rsplit('/')
                    .next()
                    .is_some_and(|d| d.to_ascii_lowercase().contains("jre"));
            if jre {
                "jre"
            } else {
                "jdk"
            }
        } else {
            "openjdk"
        };
        out.packages.push(runtime(name, version, path, rec));
    }
}

/// `17.0.9` → `17`; `1.8.0_392` → `8`.
fn java_major(v: &str) -> String {
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    match parts.next() {
        Some("1") => parts.next().unwrap_or("").to_string(),
        Some(m) => m.to_string(),
        None => String::new(),
    }
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

fn node(fs: &ImageFs, out: &mut Catalog) {
    // Where `make install` or the official tarball put Node: `bin/node` is never kept (too
    // large), so its presence shows as a `bin/node` or `bin/nodejs` symlink or as the symlinks
    // it installs beside it into `lib/node_modules` (npm, npx, corepack).
    let installed = |prefix: &str| {
        let bin = join(prefix, "bin/");
        fs.symlinks
            .range(bin.clone()..)
            .take_while(|(p, _)| p.starts_with(&bin))
            .any(|(p, target)| {
                let name = &p[bin.len()..];
                name == "node"
                    || (name == "nodejs" && target.ends_with("node"))
                    || (!name.contains('/') && target.contains("lib/node_modules/"))
            })
    };
    let distro = |out: &Catalog| {
        distro_has(out, |p| {
            p.name.starts_with("nodejs") || p.name.starts_with("libnode")
        })
    };
    let mut seen = BTreeSet::new();
    for (path, rec) in fs
        .files
        .iter()
        .filter(|(p, _)| p.ends_with("include/node/node_version.h") && wanted(p))
    {
        let prefix = path
            .strip_suffix("include/node/node_version.h")
            .unwrap_or("")
            .trim_end_matches('/');
        if !installed(prefix) || (prefix == "usr" && distro(out)) {
            continue; // headers only (a node-gyp cache), or the distribution's Node
        }
        seen.insert(prefix.to_string());
        let text = String::from_utf8_lossy(&rec.content);
        let part = |key: &str| {
            text.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some("#define") && f.next() == Some(key))
                    .then(|| f.next())
                    .flatten()
                    .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            })
        };
        match (
            part("NODE_MAJOR_VERSION"),
            part("NODE_MINOR_VERSION"),
            part("NODE_PATCH_VERSION"),
        ) {
            (Some(a), Some(b), Some(c)) => {
                out.packages
                    .push(runtime("node", &format!("{a}.{b}.{c}"), path, rec));
            }
            _ => uncatalogued(
                out,
                "runtime",
                path,
                rec,
                "`node_version.h` without NODE_MAJOR/MINOR/PATCH_VERSION: Node's version is \
                 unknown"
                    .into(),
            ),
        }
    }
    // Node installed without its headers (removed to slim the image): present, version unknown.
    for (path, target) in &fs.symlinks {
        let Some(prefix) = path
            .strip_suffix("bin/node")
            .or_else(|| {
                path.strip_suffix("bin/nodejs")
                    .filter(|_| target.ends_with("node"))
            })
            .filter(|p| p.is_empty() || p.ends_with('/'))
            .map(|p| p.trim_end_matches('/'))
        else {
            continue;
        };
        if seen.contains(prefix) || (prefix == "usr" && distro(out)) {
            continue;
        }
        seen.insert(prefix.to_string());
        // Symlinks carry no layer: that of npm or corepack bundled with this Node, if kept.
        let modules = join(prefix, "lib/node_modules/");
        let layer = fs
            .files
            .range(modules.clone()..)
            .take_while(|(p, _)| p.starts_with(&modules))
            .map(|(_, r)| r.layer.clone())
            .next();
        out.uncatalogued.push(Uncatalogued {
            ecosystem: "runtime".into(),
            path: format!("/{}", join(prefix, "bin/node")),
            reason: format!(
                "Node is installed (`/{path}`) but `/{}` is missing: its version is \
                 unknown{}",
                join(prefix, "include/node/node_version.h"),
                if layer.is_some() {
                    ""
                } else {
                    " (and so is the layer that added it)"
                }
            ),
            layer: layer.unwrap_or_else(|| crate::oci::types::Digest::of(b"")),
        });
    }
}

fn python(fs: &ImageFs, out: &mut Catalog) {
    // `(prefix, "3.X")` of every Python installation in evidence: its standard library's
    // `os.py`, or a `bin/python3 -> python3.X` symlink (a virtualenv's points elsewhere).
    let mut installs: BTreeMap<(String, String), Option<(&String, &FileRecord)>> = BTreeMap::new();
    for (path, rec) in &fs.files {
        if path.ends_with("/os.py") || path == "os.py" {
            if let Some((prefix, minor)) = python_dir(parent(path), "lib") {
                installs.insert((prefix.into(), minor.into()), Some((path, rec)));
            }
        }
    }
    for (path, target) in &fs.symlinks {
        let Some(prefix) = ["bin/python3", "bin/python"]
            .iter()
            .find_map(|s| path.strip_suffix(s))
            .filter(|p| p.is_empty() || p.ends_with('/'))
        else {
            continue;
        };
        if let Some(minor) = target
            .strip_prefix("python")
            .filter(|m| m.starts_with("3."))
        {
            let minor = minor.trim_end_matches(['m', 't', 'd', 'u']);
            installs
                .entry((prefix.trim_end_matches('/').into(), minor.into()))
                .or_insert(None);
        }
    }
    for ((prefix, minor), evidence) in installs {
        if prefix == "usr"
            && distro_has(out, |p| {
                (p.name.starts_with("python") || p.name.starts_with("libpython"))
                    && (p.name.contains(&minor) || p.version.starts_with(&format!("{minor}.")))
            })
        {
            continue; // the distribution's Python
        }
        let header = ["", "m", "d", "dm", "t"].iter().find_map(|abi| {
            fs.files.get_key_value(&join(
                &prefix,
                &format!("include/python{minor}{abi}/patchlevel.h"),
            ))
        });
        let Some((path, rec)) = header else {
            // Without its standard library a `python3` symlink points at no installation.
            if let Some((stdlib, rec)) = evidence {
                out.uncatalogued.push(Uncatalogued {
                    ecosystem: "runtime".into(),
                    path: format!("/{}", join(&prefix, &format!("bin/python{minor}"))),
                    layer: rec.layer.clone(),
                    reason: format!(
                        "Python {minor} is installed (`/{stdlib}`) but `/{}` is missing: its \
                         exact version is unknown",
                        join(&prefix, &format!("include/python{minor}/patchlevel.h"))
                    ),
                });
            }
            continue;
        };
        let text = String::from_utf8_lossy(&rec.content);
        let version = text.lines().find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("#define") && f.next() == Some("PY_VERSION"))
                .then(|| f.next())
                .flatten()
                .map(|v| v.trim_matches('"'))
                .filter(|v| v.starts_with(&minor))
        });
        match version {
            Some(v) => out.packages.push(runtime("python", v, path, rec)),
            None => uncatalogued(
                out,
                "runtime",
                path,
                rec,
                format!("`patchlevel.h` without a PY_VERSION for Python {minor}: its version is unknown"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::types::Digest;

    fn fs_with(files: &[(&str, &str)], links: &[(&str, &str)]) -> ImageFs {
        let mut fs = ImageFs::default();
        for (p, c) in files {
            fs.files.insert(
                p.to_string(),
                FileRecord {
                    content: c.as_bytes().to_vec(),
                    layer: Digest::of(b"l"),
                    embedded: None,
                },
            );
        }
        for (p, t) in links {
            fs.symlinks.insert(p.to_string(), t.to_string());
        }
        fs
    }

    fn run(fs: &ImageFs) -> Catalog {
        let mut out = Catalog::default();
        catalog(fs, &mut out);
        out
    }

    fn ids(c: &Catalog) -> Vec<String> {
        let mut v: Vec<String> = c
            .packages
            .iter()
            .map(|p| {
                format!(
                    "{} {}@{} {}",
                    p.kind.as_str(),
                    p.name,
                    p.version,
                    p.location
                )
            })
            .collect();
        v.sort();
        v
    }

    const RAKE: &str = r#"# -*- encoding: utf-8 -*-
# stub: rake 13.0.6 ruby lib

Gem::Specification.new do |s|
  s.name = "rake".freeze
  s.version = "13.0.6"

  s.required_rubygems_version = Gem::Requirement.new(">= 1.3.2".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/ruby/rake/issues", "changelog_uri" => "https://github.com/ruby/rake/blob/v13.0.6/History.rdoc" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Hiroshi SHIBATA".freeze, "Eric Hodel".freeze, "Jim Weirich".freeze]
  s.bindir = "exe".freeze
  s.date = "2021-07-09"
  s.description = "Rake is a Make-like program implemented in Ruby. Tasks and dependencies are\nspecified in standard Ruby syntax.\n".freeze
  s.email = ["hsbt@ruby-lang.org".freeze, "drbrain@segment7.net".freeze, "".freeze]
  s.executables = ["rake".freeze]
  s.files = ["exe/rake".freeze]
  s.homepage = "https://github.com/ruby/rake".freeze
  s.licenses = ["MIT".freeze]
  s.rdoc_options = ["--main".freeze, "README.rdoc".freeze]
  s.required_ruby_version = Gem::Requirement.new(">= 2.2".freeze)
  s.rubygems_version = "3.4.10".freeze
  s.summary = "Rake is a Make-like program implemented in Ruby".freeze

  s.installed_by_version = "3.4.10" if s.respond_to? :installed_by_version
end
"#;

    #[test]
    fn gemspecs_as_rubygems_writes_them() {
        let fs = fs_with(
            &[
                ("usr/local/lib/ruby/gems/3.2.0/specifications/rake-13.0.6.gemspec", RAKE),
                (
                    "usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec",
                    "# stub: json 2.6.3 ruby lib\nGem::Specification.new do |s|\n  s.name = \"json\".freeze\n  s.version = Gem::Version.new(\"2.6.3\")\n  s.license = \"Ruby\"\nend\n",
                ),
                (
                    "usr/share/rubygems-integration/all/specifications/old-0.8.7.gemspec",
                    "Gem::Specification.new do |s|\n  s.name = %q{old}\n  s.version = '0.8.7'\n  s.licenses = [\"MIT\", \"Ruby\"]\nend\n",
                ),
                (
                    "vendor/bundle/ruby/3.2.0/specifications/dyn-1.0.gemspec",
                    "Gem::Specification.new do |s|\n  s.name = NAME\n  s.version = Dyn::VERSION\nend\n",
                ),
            ],
            &[],
        );
        let c = run(&fs);
        assert_eq!(
            ids(&c),
            [
                "gem json@2.6.3 /usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec",
                "gem old@0.8.7 /usr/share/rubygems-integration/all/specifications/old-0.8.7.gemspec",
                "gem rake@13.0.6 /usr/local/lib/ruby/gems/3.2.0/specifications/rake-13.0.6.gemspec",
            ]
        );
        let rake = c.packages.iter().find(|p| p.name == "rake").unwrap();
        assert_eq!(rake.licenses, ["MIT"]);
        assert_eq!(rake.purl, "pkg:gem/rake@13.0.6");
        assert!(rake.identified_from.is_none());
        let json = c.packages.iter().find(|p| p.name == "json").unwrap();
        assert_eq!(json.licenses, ["Ruby"]);
        let old = c.packages.iter().find(|p| p.name == "old").unwrap();
        assert_eq!(old.licenses, ["MIT", "Ruby"]);
        assert_eq!(c.uncatalogued.len(), 1, "{:?}", c.uncatalogued);
        assert_eq!(c.uncatalogued[0].ecosystem, "RubyGems");
        assert!(c.uncatalogued[0].reason.contains("literal `name`"));
    }

    #[test]
    fn ruby_literals() {
        assert_eq!(
            ruby_string(r#" "a\"b\\c\u00e9".freeze"#).as_deref(),
            Some("a\"b\\cé")
        );
        assert_eq!(
            ruby_string(" Gem::Version.new \"1.0\"").as_deref(),
            Some("1.0")
        );
        assert_eq!(ruby_string(" %q(x y)").as_deref(), Some("x y"));
        assert_eq!(ruby_string(" 'it\\'s'").as_deref(), Some("it's"));
        assert_eq!(ruby_string(" \"open"), None);
        assert_eq!(ruby_string(" \"\\u{1F600"), None);
        assert_eq!(
            ruby_strings(r#" ["MIT".freeze, 'BSD-2-Clause']"#),
            Some(vec!["MIT".to_string(), "BSD-2-Clause".to_string()])
        );
        assert_eq!(assignment("  s.licenses = []", "license"), None);
        assert_eq!(assignment("  s.name == x", "name"), None);
    }

    #[test]
    fn gemfile_lock_adds_only_what_is_not_installed() {
        let lock = "GIT\n  remote: https://github.com/rails/rails.git\n  revision: abc\n  specs:\n    actioncable (7.2.0.alpha)\n      nio4r (~> 2.0)\n\nGEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.15.4-x86_64-linux)\n      racc (~> 1.4)\n    rake (13.0.6)\n    broken\n\nPATH\n  remote: .\n  specs:\n    myapp (0.1.0)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  rake\n\nBUNDLED WITH\n   2.4.19\n";
        let fs = fs_with(
            &[
                ("app/Gemfile.lock", lock),
                ("usr/local/bundle/specifications/rake-13.0.6.gemspec", RAKE),
                ("usr/local/bundle/gems/rake-13.0.6/Gemfile.lock", lock),
                ("srv/Gemfile.lock", "{\"not\": \"a lockfile\"}"),
            ],
            &[],
        );
        let c = run(&fs);
        assert_eq!(
            ids(&c),
            [
                "gem actioncable@7.2.0.alpha /app/Gemfile.lock",
                "gem nokogiri@1.15.4 /app/Gemfile.lock",
                "gem rake@13.0.6 /usr/local/bundle/specifications/rake-13.0.6.gemspec",
            ]
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("line 14"));
        assert_eq!(c.uncatalogued.len(), 1);
        assert_eq!(c.uncatalogued[0].path, "/srv/Gemfile.lock");
    }

    #[test]
    fn composer_1_and_2() {
        let v1 = r#"[
  {"name": "symfony/console", "version": "v5.4.0", "version_normalized": "5.4.0.0", "type": "library", "license": ["MIT"]},
  {"name": "Monolog/Monolog", "version": "2.9.1", "license": "MIT"}
]"#;
        let v2 = r#"{
    "packages": [
        {
            "name": "guzzlehttp/guzzle",
            "version": "7.8.0",
            "version_normalized": "7.8.0.0",
            "source": {"type": "git", "url": "https://github.com/guzzle/guzzle.git", "reference": "1110f66a6530a40fe7aea0378fe608ee2b2248f9"},
            "require": {"php": "^7.2.5 || ^8.0"},
            "type": "library",
            "installation-source": "dist",
            "license": ["MIT"],
            "install-path": "../guzzlehttp/guzzle"
        },
        {"name": "nameless/version"}
    ],
    "dev": true,
    "dev-package-names": []
}"#;
        let fs = fs_with(
            &[
                ("srv/old/vendor/composer/installed.json", v1),
                ("var/www/html/vendor/composer/installed.json", v2),
                ("app/vendor/composer/installed.json", "<?php // not json"),
                ("x/vendor/composer/installed.json", "{\"packages\": 3}"),
            ],
            &[],
        );
        let c = run(&fs);
        assert_eq!(
            ids(&c),
            [
                "composer Monolog/Monolog@2.9.1 /srv/old/vendor/composer/installed.json",
                "composer guzzlehttp/guzzle@7.8.0 /var/www/html/vendor/composer/installed.json",
                "composer symfony/console@v5.4.0 /srv/old/vendor/composer/installed.json",
            ]
        );
        let console = c
            .packages
            .iter()
            .find(|p| p.name == "symfony/console")
            .unwrap();
        assert_eq!(console.licenses, ["MIT"]);
        assert_eq!(console.purl, "pkg:composer/symfony/console@v5.4.0");
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("package 2 has no name or version"));
        let bad: Vec<(&str, &str)> = c
            .uncatalogued
            .iter()
            .map(|u| (u.path.as_str(), u.ecosystem.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                ("/app/vendor/composer/installed.json", "Packagist"),
                ("/x/vendor/composer/installed.json", "Packagist"),
            ]
        );
        assert!(c.uncatalogued[0].reason.starts_with("not valid JSON"));
    }

    const DEPS: &str = r#"{
  "runtimeTarget": {
    "name": ".NETCoreApp,Version=v8.0/linux-x64",
    "signature": ""
  },
  "compilationOptions": {},
  "targets": {
    ".NETCoreApp,Version=v8.0": {},
    ".NETCoreApp,Version=v8.0/linux-x64": {
      "WebApi/1.0.0": {
        "dependencies": {
          "Newtonsoft.Json": "13.0.1",
          "Shared": "1.0.0"
        },
        "runtime": {"WebApi.dll": {}}
      },
      "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": {
        "runtime": {"System.Private.CoreLib.dll": {"assemblyVersion": "8.0.0.0", "fileVersion": "8.0.23.53103"}}
      },
      "Newtonsoft.Json/13.0.1": {
        "runtime": {"lib/netstandard2.0/Newtonsoft.Json.dll": {"assemblyVersion": "13.0.0.0", "fileVersion": "13.0.1.25517"}}
      },
      "Shared/1.0.0": {"runtime": {"Shared.dll": {}}}
    }
  },
  "libraries": {
    "WebApi/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
    "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": {"type": "runtimepack", "serviceable": false, "sha512": ""},
    "Newtonsoft.Json/13.0.1": {
      "type": "package",
      "serviceable": true,
      "sha512": "sha512-ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A==",
      "path": "newtonsoft.json/13.0.1",
      "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512"
    },
    "Shared/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
    "Broken": {"type": "package"}
  }
}"#;

    #[test]
    fn deps_json_packages_and_runtime_pack() {
        let fs = fs_with(
            &[
                ("app/WebApi.deps.json", DEPS),
                ("app/Other.deps.json", "not json"),
                ("app/Empty.deps.json", "{\"targets\": {}}"),
            ],
            &[],
        );
        let c = run(&fs);
        assert_eq!(
            ids(&c),
            [
                "nuget Microsoft.NETCore.App.Runtime.linux-x64@8.0.0 /app/WebApi.deps.json",
                "nuget Newtonsoft.Json@13.0.1 /app/WebApi.deps.json",
            ]
        );
        assert!(c
            .packages
            .iter()
            .any(|p| p.purl == "pkg:nuget/Newtonsoft.Json@13.0.1"));
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let bad: Vec<&str> = c.uncatalogued.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(bad, ["/app/Empty.deps.json", "/app/Other.deps.json"]);
        assert!(c.uncatalogued.iter().all(|u| u.ecosystem == "NuGet"));
    }

    /// Installed packages as the npm cataloger reports them (it runs first).
    fn with_installed(fs: &ImageFs, installed: &[(&str, &str, &str)]) -> Catalog {
        let mut out = Catalog::default();
        for (name, version, at) in installed {
            out.packages.push(Package {
                kind: Kind::Npm,
                name: name.to_string(),
                version: version.to_string(),
                source_name: None,
                source_version: None,
                arch: None,
                licenses: vec![],
                location: at.to_string(),
                layer: Digest::of(b"l"),
                purl: purl::npm(name, version),
                identified_from: None,
            });
        }
        catalog(fs, &mut out);
        out
    }

    #[test]
    fn npm_lockfile_v3_next_to_node_modules() {
        let lock = r#"{
  "name": "web",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "web", "version": "1.0.0", "dependencies": {"express": "^4.18.2"}},
    "node_modules/express": {"version": "4.18.2", "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz", "license": "MIT"},
    "node_modules/qs": {"version": "6.11.0"},
    "node_modules/express/node_modules/debug": {"version": "2.6.9"},
    "node_modules/@esbuild/darwin-arm64": {"version": "0.19.8", "cpu": ["arm64"], "optional": true, "os": ["darwin"]},
    "node_modules/fsevents": {"version": "2.3.3", "optional": true, "os": ["darwin"]},
    "node_modules/maybe": {"version": "1.0.0", "optional": true},
    "node_modules/jest": {"version": "29.7.0", "dev": true},
    "node_modules/shared": {"resolved": "packages/shared", "link": true},
    "packages/shared": {"name": "shared", "version": "0.0.1"},
    "packages/shared/node_modules/left-pad": {"version": "1.3.0"},
    "node_modules/lodash-alias": {"name": "lodash", "version": "4.17.21"},
    "node_modules/noversion": {}
  }
}"#;
        let fs = fs_with(&[("srv/web/package-lock.json", lock)], &[]);
        let c = with_installed(
            &fs,
            &[
                (
                    "express",
                    "4.18.2",
                    "/srv/web/node_modules/express/package.json",
                ),
                // hoisted differently than the lockfile says: same name and version
                ("debug", "2.6.9", "/srv/web/node_modules/debug/package.json"),
                (
                    "left-pad",
                    "1.3.0",
                    "/srv/web/packages/shared/node_modules/left-pad/package.json",
                ),
            ],
        );
        assert_eq!(
            ids(&c),
            [
                "npm debug@2.6.9 /srv/web/node_modules/debug/package.json",
                "npm express@4.18.2 /srv/web/node_modules/express/package.json",
                "npm left-pad@1.3.0 /srv/web/packages/shared/node_modules/left-pad/package.json",
                "npm lodash@4.17.21 /srv/web/package-lock.json",
                "npm qs@6.11.0 /srv/web/package-lock.json",
            ]
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("node_modules/noversion"));
    }

    #[test]
    fn npm_lockfile_v1_and_v2_without_node_modules() {
        let v1 = r#"{
  "name": "old",
  "version": "1.0.0",
  "lockfileVersion": 1,
  "requires": true,
  "dependencies": {
    "@babel/core": {"version": "7.0.0", "resolved": "https://registry.npmjs.org/@babel/core/-/core-7.0.0.tgz", "integrity": "sha512-x"},
    "lodash": {"version": "4.17.11", "dependencies": {"minimist": {"version": "0.0.8"}}},
    "mine": {"version": "github:me/mine#abc123"},
    "local": {"version": "file:../local"},
    "mocha": {"version": "10.0.0", "dev": true},
    "lodash-alias": {"version": "npm:lodash@4.17.21"}
  }
}"#;
        let v2 = r#"{
  "name": "mid",
  "lockfileVersion": 2,
  "packages": {
    "": {"name": "mid"},
    "node_modules/maybe": {"version": "1.0.0", "optional": true},
    "node_modules/@esbuild/linux-arm64": {"version": "0.19.8", "cpu": ["arm64"], "optional": true, "os": ["linux"]}
  },
  "dependencies": {
    "maybe": {"version": "1.0.0", "optional": true}
  }
}"#;
        let fs = fs_with(
            &[
                ("app/npm-shrinkwrap.json", v1),
                ("mid/package-lock.json", v2),
                ("broken/package-lock.json", "{\"lockfileVersion\": 3,"),
                ("none/package-lock.json", "{}"),
            ],
            &[],
        );
        let c = run(&fs);
        assert_eq!(
            ids(&c),
            [
                "npm @babel/core@7.0.0 /app/npm-shrinkwrap.json",
                "npm lodash@4.17.11 /app/npm-shrinkwrap.json",
                "npm lodash@4.17.21 /app/npm-shrinkwrap.json",
                "npm maybe@1.0.0 /mid/package-lock.json",
                "npm minimist@0.0.8 /app/npm-shrinkwrap.json",
            ]
        );
        assert_eq!(
            c.packages
                .iter()
                .find(|p| p.name == "@babel/core")
                .unwrap()
                .purl,
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("github:me/mine"));
        let bad: Vec<(&str, &str)> = c
            .uncatalogued
            .iter()
            .map(|u| (u.path.as_str(), u.ecosystem.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                ("/broken/package-lock.json", "npm"),
                ("/none/package-lock.json", "npm"),
            ]
        );
    }

    const TEMURIN: &str = "IMPLEMENTOR=\"Eclipse Adoptium\"\nIMPLEMENTOR_VERSION=\"Temurin-17.0.9+9\"\nJAVA_VERSION=\"17.0.9\"\nJAVA_VERSION_DATE=\"2023-10-17\"\nLIBC=\"gnu\"\nMODULES=\"java.base java.logging\"\nOS_ARCH=\"x86_64\"\nOS_NAME=\"Linux\"\nSOURCE=\".:git:a5a8d7c5b0e2\"\nIMAGE_TYPE=\"JDK\"\n";

    #[test]
    fn jdk_release_files() {
        let fs = fs_with(
            &[
                ("opt/java/openjdk/release", TEMURIN),
                (
                    "usr/java/jdk-21-oracle-x64/release",
                    "IMPLEMENTOR=\"Oracle Corporation\"\nJAVA_VERSION=\"21.0.1\"\nBUILD_TYPE=\"commercial\"\n",
                ),
                ("usr/local/openjdk-11/release", "IMPLEMENTOR=\"Oracle Corporation\"\nMODULES=\"java.base\"\n"),
                ("opt/jvm-tools/release", "version 3\n"),
                ("usr/lib/jvm/java-17-openjdk-amd64/release", TEMURIN),
            ],
            &[],
        );
        let mut out = Catalog::default();
        out.packages.push(Package {
            kind: Kind::Deb,
            name: "openjdk-17-jre-headless".into(),
            version: "17.0.9+9-1~deb12u1".into(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses: vec![],
            location: "/var/lib/dpkg/status".into(),
            layer: Digest::of(b"l"),
            purl: String::new(),
            identified_from: None,
        });
        catalog(&fs, &mut out);
        let runtimes: Vec<String> = ids(&out)
            .into_iter()
            .filter(|i| i.starts_with("runtime"))
            .collect();
        assert_eq!(
            runtimes,
            [
                "runtime jdk@21.0.1 /usr/java/jdk-21-oracle-x64/release",
                "runtime openjdk@17.0.9 /opt/java/openjdk/release",
            ]
        );
        let jdk = out.packages.iter().find(|p| p.name == "openjdk").unwrap();
        assert_eq!(jdk.purl, "pkg:generic/openjdk@17.0.9");
        assert_eq!(out.uncatalogued.len(), 1, "{:?}", out.uncatalogued);
        assert_eq!(out.uncatalogued[0].path, "/usr/local/openjdk-11/release");
        assert_eq!(out.uncatalogued[0].ecosystem, "runtime");
        assert_eq!(java_major("1.8.0_392"), "8");
    }

    const NODE_H: &str = "#ifndef SRC_NODE_VERSION_H_\n#define SRC_NODE_VERSION_H_\n\n#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 10\n#define NODE_PATCH_VERSION 0\n\n#define NODE_VERSION_IS_LTS 1\n";

    #[test]
    fn node_built_into_a_prefix() {
        let fs = fs_with(
            &[
                ("usr/local/include/node/node_version.h", NODE_H),
                (
                    "root/.cache/node-gyp/20.10.0/include/node/node_version.h",
                    NODE_H,
                ),
                (
                    "opt/node/include/node/node_version.h",
                    "#define NODE_MAJOR_VERSION 20\n",
                ),
            ],
            &[
                (
                    "usr/local/bin/npm",
                    "../lib/node_modules/npm/bin/npm-cli.js",
                ),
                ("usr/local/bin/nodejs", "/usr/local/bin/node"),
                ("opt/node/bin/node", "node-20"),
                ("srv/slim/bin/nodejs", "/srv/slim/bin/node"),
            ],
        );
        let c = run(&fs);
        assert_eq!(
            ids(&c),
            ["runtime node@20.10.0 /usr/local/include/node/node_version.h"]
        );
        assert_eq!(c.packages[0].purl, "pkg:generic/node@20.10.0");
        let bad: Vec<&str> = c.uncatalogued.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(
            bad,
            [
                "/opt/node/include/node/node_version.h",
                "/srv/slim/bin/node"
            ]
        );
    }

    #[test]
    fn python_built_into_a_prefix() {
        let fs = fs_with(
            &[
                (
                    "usr/local/include/python3.12/patchlevel.h",
                    "#define PY_MAJOR_VERSION        3\n#define PY_MINOR_VERSION        12\n/* Version as a string */\n#define PY_VERSION              \"3.12.1\"\n",
                ),
                ("usr/local/lib/python3.12/os.py", "r\"\"\"OS routines\"\"\"\n"),
                ("usr/lib/python3.11/os.py", ""),
                ("opt/py/lib/python3.10/os.py", ""),
                ("usr/include/python3.9/patchlevel.h", "#define PY_VERSION \"3.9.2\"\n"),
            ],
            &[
                ("usr/local/bin/python3", "python3.12"),
                ("usr/local/bin/python", "python3"),
                ("venv/bin/python3", "python"),
                ("usr/bin/python3", "python3.11"),
            ],
        );
        let mut out = Catalog::default();
        out.packages.push(Package {
            kind: Kind::Deb,
            name: "python3.11-minimal".into(),
            version: "3.11.2-6".into(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses: vec![],
            location: "/var/lib/dpkg/status".into(),
            layer: Digest::of(b"l"),
            purl: String::new(),
            identified_from: None,
        });
        catalog(&fs, &mut out);
        let runtimes: Vec<String> = ids(&out)
            .into_iter()
            .filter(|i| i.starts_with("runtime"))
            .collect();
        assert_eq!(
            runtimes,
            ["runtime python@3.12.1 /usr/local/include/python3.12/patchlevel.h"]
        );
        let bad: Vec<&str> = out.uncatalogued.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(bad, ["/opt/py/bin/python3.10"], "{:?}", out.uncatalogued);
    }

    #[test]
    fn wanted_keeps_only_what_the_catalogers_read() {
        for yes in [
            "usr/local/lib/ruby/gems/3.2.0/specifications/rake-13.0.6.gemspec",
            "usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
            "usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec",
            "app/vendor/bundle/ruby/3.2.0/specifications/rack-3.0.8.gemspec",
            "app/Gemfile.lock",
            "Gemfile.lock",
            "app/gems.locked",
            "var/www/vendor/composer/installed.json",
            "vendor/composer/installed.json",
            "app/WebApi.deps.json",
            "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json",
            "srv/app/package-lock.json",
            "package-lock.json",
            "app/npm-shrinkwrap.json",
            "opt/java/openjdk/release",
            "usr/local/openjdk-17/release",
            "usr/lib/jvm/java-17-openjdk-amd64/release",
            "usr/local/include/node/node_version.h",
            "usr/local/include/python3.12/patchlevel.h",
            "usr/local/include/python3.7m/patchlevel.h",
            "usr/local/lib/python3.12/os.py",
        ] {
            assert!(wanted(yes), "{yes}");
        }
        for no in [
            "usr/local/lib/ruby/gems/3.2.0/gems/rake-13.0.6/rake.gemspec",
            "src/app/app.gemspec",
            "usr/local/bundle/gems/rails-7.0.8/Gemfile.lock",
            "app/node_modules/foo/package-lock.json",
            "app/node_modules/.package-lock.json",
            "app/composer.json",
            "app/installed.json",
            "app/WebApi.runtimeconfig.json",
            "etc/release",
            "usr/share/doc/release",
            "usr/local/bin/node",
            "usr/local/bin/python3.12",
            "usr/local/include/python2.7/patchlevel.h",
            "usr/local/lib/python3.12/site-packages/os.py",
            "usr/local/lib/python3.12/json/__init__.py",
            "app/node_version.h",
        ] {
            assert!(!wanted(no), "{no}");
        }
    }

    #[test]
    fn arbitrary_contents_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: &[&str] = &[
            "s.name = ",
            "s.version = ",
            "\"",
            "'",
            "%q{",
            "}",
            "\\",
            "\\u{",
            "\\u12",
            "[",
            "]",
            ".freeze",
            ",",
            "\n",
            "  specs:\n",
            "GEM\n",
            "    a (1-x86_64-linux)\n",
            "{",
            "\"packages\":",
            "\"libraries\":",
            "\"a/1\"",
            ":",
            "{\"type\":\"package\"}",
            "JAVA_VERSION=\"",
            "=",
            "#define PY_VERSION ",
            "#define NODE_MAJOR_VERSION ",
            "é",
            "Gem::Version.new(",
        ];
        for _ in 0..2_000 {
            let mut content = String::new();
            for _ in 0..(next() % 30) {
                content.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let files: Vec<(&str, &str)> = [
                "specifications/a-1.gemspec",
                "Gemfile.lock",
                "vendor/composer/installed.json",
                "a.deps.json",
                "package-lock.json",
                "opt/java/release",
                "include/node/node_version.h",
                "include/python3.12/patchlevel.h",
            ]
            .iter()
            .map(|p| (*p, content.as_str()))
            .collect();
            let c = run(&fs_with(
                &files,
                &[("bin/node", "x"), ("bin/python3", "python3.12")],
            ));
            assert!(c
                .packages
                .iter()
                .all(|p| !p.name.is_empty() && !p.version.is_empty()));
        }
    }
}
