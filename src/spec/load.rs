//! Reading a pipeline file: YAML → typed model, with every error pointing at file:line:col,
//! naming the key path, and offering a fix; `${VAR}` interpolation that never turns an unset
//! variable into an empty string.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::redact::Redactor;
use crate::spec::model::PipelineFile;
use crate::spec::template;
use crate::yaml;

/// Where an error in the file's structure sends the reader.
const PIPELINE_HINT: &str = "see docs/pipeline.md, or `cleanpipe schema`";

/// A parsed, interpolated pipeline file and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedPipeline {
    pub file: PipelineFile,
    pub path: PathBuf,
    /// The raw text, kept to locate keys in later validation messages.
    pub text: String,
}

impl LoadedPipeline {
    /// The directory relative paths in the file start from.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// An error about the key at `path` (e.g. `["build", "customize", "base"]`), located in the file.
    pub fn error_at(&self, key_path: &[&str], message: impl Into<String>) -> Error {
        yaml::error_at(
            &self.text,
            &self.path.display().to_string(),
            key_path,
            message,
        )
    }
}

/// Load and interpolate a pipeline file. `env` looks up variables; interpolated values are
/// registered with `redactor` as secrets.
pub fn load(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<LoadedPipeline> {
    let text = read(path)?;
    parse(&text, path, env, redactor)
}

/// What a run will take from its environment as a secret but this check did not have: the
/// variable and where the file first uses it (`file:line:col`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenAtRunTime {
    pub name: String,
    pub at: String,
}

/// The value a secret that is given at run time stands in as while checking a file.
const RUN_TIME_PLACEHOLDER: &str = "given-at-run-time";

/// Load a pipeline file for `validate` and `plan`: like [`load`], except that a variable
/// whose every use is secret (webhook secrets, headers, credentials: what interpolation
/// redacts) may be unset. Those are listed, to be given at run time; any other unset
/// variable is still an error at its file:line:col.
pub fn load_for_check(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<(LoadedPipeline, Vec<GivenAtRunTime>)> {
    let text = read(path)?;
    parse_for_check(&text, path, env, redactor)
}

/// [`load_for_check`] on text.
pub fn parse_for_check(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<(LoadedPipeline, Vec<GivenAtRunTime>)> {
    parse_deferring(text, path, env, redactor, &|value| {
        template::secret_uses(value).0
    })
}

/// Load a pipeline file for `run --unsigned`: nothing is pushed and no webhook is called, so
/// a secret used only by `push.register` may be unset (it is listed, and stands in as a
/// placeholder no request ever carries); every other variable is needed as by [`load`].
pub fn load_for_unsigned_run(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<(LoadedPipeline, Vec<GivenAtRunTime>)> {
    let text = read(path)?;
    parse_for_unsigned_run(&text, path, env, redactor)
}

/// [`load_for_unsigned_run`] on text.
pub fn parse_for_unsigned_run(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<(LoadedPipeline, Vec<GivenAtRunTime>)> {
    parse_deferring(text, path, env, redactor, &|value| {
        let register = value
            .get("push")
            .and_then(|p| p.get("register"))
            .cloned()
            .unwrap_or_default();
        let mut wrapped = serde_yaml::Mapping::new();
        wrapped.insert("register".into(), register);
        let (webhooks, _) = template::secret_uses(&serde_yaml::Value::Mapping(wrapped));
        let mut rest = value.clone();
        if let Some(push) = rest.get_mut("push").and_then(|p| p.as_mapping_mut()) {
            push.remove("register");
        }
        let (secret, ordinary) = template::secret_uses(&rest);
        webhooks
            .into_iter()
            .filter(|n| !secret.contains(n) && !ordinary.contains(n))
            .collect()
    })
}

/// Parse `text` with the variables `deferrable` picks from the file (and the environment
/// lacks) standing in as a placeholder, listed with where the file first uses each.
fn parse_deferring(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
    deferrable: &dyn Fn(&serde_yaml::Value) -> std::collections::BTreeSet<String>,
) -> Result<(LoadedPipeline, Vec<GivenAtRunTime>)> {
    let shown = path.display().to_string();
    // Bounded before any parser sees it, as `parse` does.
    check_size(text.len(), &shown)?;
    check_nesting(text, &shown)?;
    let secret_only = match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(value) => deferrable(&value),
        // The ordinary parse reports what is wrong with it.
        _ => Default::default(),
    };
    let later: Vec<GivenAtRunTime> = secret_only
        .into_iter()
        .filter(|name| env(name).is_none())
        .map(|name| GivenAtRunTime {
            at: first_use(text, &name)
                .map(|(l, c)| format!("{shown}:{l}:{c}"))
                .unwrap_or_else(|| shown.clone()),
            name,
        })
        .collect();
    let stand_in = |name: &str| {
        env(name).or_else(|| {
            later
                .iter()
                .any(|g| g.name == name)
                .then(|| RUN_TIME_PLACEHOLDER.to_string())
        })
    };
    let loaded = parse(text, path, &stand_in, redactor)?;
    Ok((loaded, later))
}

/// Line and column (1-based) of the first `${name}` outside a comment line.
fn first_use(text: &str, name: &str) -> Option<(usize, usize)> {
    let needle = format!("${{{name}}}");
    text.lines().enumerate().find_map(|(n, line)| {
        if line.trim_start().starts_with('#') {
            return None;
        }
        line.find(&needle).map(|c| (n + 1, c + 1))
    })
}

/// Names a run reads from its environment as secrets: every variable whose uses in the file
/// are all secret, the variable of an `env://` signing key, and COSIGN_PASSWORD for a key
/// read from a file or a variable. Sorted; for the CI files `init` writes.
pub fn run_time_secrets(text: &str) -> Vec<String> {
    if check_size(text.len(), "").is_err() || check_nesting(text, "").is_err() {
        return Vec::new();
    }
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Vec::new();
    };
    let mut names = template::secret_uses(&value).0;
    if let Some(key) = value
        .get("sign")
        .and_then(|s| s.get("key"))
        .and_then(|k| k.as_str())
    {
        if let Some(var) = key.strip_prefix("env://") {
            names.insert(var.to_string());
        }
        let remote = [
            "pkcs11:",
            "awskms://",
            "gcpkms://",
            "azurekms://",
            "hashivault://",
        ]
        .iter()
        .any(|p| key.starts_with(p));
        if !remote {
            names.insert("COSIGN_PASSWORD".into());
        }
    }
    names.into_iter().collect()
}

/// The pipeline file's text, bounded (see [`MAX_PIPELINE_BYTES`]).
fn read(path: &Path) -> Result<String> {
    use std::io::Read;
    let cannot_read = |e: std::io::Error| {
        Error::usage(format!("cannot read the pipeline file `{}`: {e}", path.display()))
            .with_hint("pass the file with `-f FILE`; `cleanpipe run` with no -f reads `pipeline.yaml`, then `pipeline.example.yaml`")
    };
    // Read at most one byte past the limit: a huge file is refused without being read whole.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_PIPELINE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(cannot_read)?;
    check_size(bytes.len(), &path.display().to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| {
        cannot_read(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })?;
    Ok(text)
}

/// Parse pipeline text (see [`load`]).
pub fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    redactor: &Redactor,
) -> Result<LoadedPipeline> {
    let shown = path.display().to_string();
    // 0. Bounded before any parser sees it (a 100,000-deep `[[[…]]]` must not cost seconds).
    check_size(text.len(), &shown)?;
    check_nesting(text, &shown)?;
    // 1. Templates and variables are checked on the raw text, so errors carry exact positions.
    template::check_text(text, &shown, env)?;
    // 2. Structure: unknown keys, types, required fields.
    let _: PipelineFile = yaml::deserialize(text, &shown, PIPELINE_HINT)?;
    // 3. Interpolate `${VAR}` inside string values only, then build the model from that.
    let mut value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| yaml::error(&e, &shown, None))?;
    let templated_repository = push_repository(&value).is_some_and(|r| r.contains("${"));
    template::interpolate_env(&mut value, env, redactor)?;
    // `repository: ${IMAGE_REPOSITORY:-}` with the variable unset (a run on a laptop, a
    // pull-request job): no repository, the local store only. Written empty as such: an error.
    if templated_repository && push_repository(&value).is_some_and(|r| r.trim().is_empty()) {
        if let Some(push) = value.get_mut("push").and_then(|p| p.as_mapping_mut()) {
            push.remove("repository");
        }
    }
    let file: PipelineFile = serde_yaml::from_value(value).map_err(|e| {
        Error::usage(format!(
            "{shown}: after `${{…}}` interpolation, the file is not valid"
        ))
        .caused_by(e)
        .with_hint("variables can only stand in string values")
    })?;
    register_literal_secrets(&file, redactor);
    let loaded = LoadedPipeline {
        file,
        path: path.to_path_buf(),
        text: text.to_string(),
    };
    if loaded.file.version != 1 {
        return Err(loaded
            .error_at(
                &["version"],
                format!("schema version {} is not supported", loaded.file.version),
            )
            .with_hint("this cleanpipe reads `version: 1`"));
    }
    check_signing(&loaded)?;
    Ok(loaded)
}

/// `push.repository` when it is a string.
fn push_repository(value: &serde_yaml::Value) -> Option<&str> {
    value.get("push")?.get("repository")?.as_str()
}

/// `sign.key` and `sign.keyless` exclude each other; keyless evidence is stored as bundles.
fn check_signing(loaded: &LoadedPipeline) -> Result<()> {
    let sign = &loaded.file.sign;
    if sign.signing_config.is_some() {
        if sign.keyless().is_some() {
            return Err(loaded
                .error_at(
                    &["sign", "signing_config"],
                    "keyless signing takes its instance from `sign.keyless.signing_config`",
                )
                .with_hint("move the file to `sign.keyless.signing_config`"));
        }
        if !sign.format().bundle() {
            return Err(loaded
                .error_at(
                    &["sign", "signing_config"],
                    "log entries are stored in Sigstore bundles, and `sign.format` writes none",
                )
                .with_hint("set `sign.format: bundle` (or `both`)"));
        }
    }
    if sign.keyless().is_none() {
        return Ok(());
    }
    if sign.key.is_some() || sign.generate_if_missing {
        return Err(loaded
            .error_at(
                &["sign", "keyless"],
                "`sign.keyless` and `sign.key` exclude each other",
            )
            .with_hint("sign with a key, or keylessly; not both"));
    }
    if sign
        .format
        .is_some_and(|f| f != crate::spec::model::SignFormat::Bundle)
    {
        return Err(loaded
            .error_at(
                &["sign", "format"],
                "keyless evidence is stored as Sigstore bundles only",
            )
            .with_hint("drop `sign.format` (keyless defaults to `bundle`)"));
    }
    Ok(())
}

/// Pipeline files larger than this are refused before parsing (docs/pipeline.md).
pub const MAX_PIPELINE_BYTES: usize = 1024 * 1024;
/// Deeper nesting of mappings and sequences is refused before parsing; real pipelines use < 10.
pub const MAX_PIPELINE_DEPTH: usize = 64;

fn check_size(len: usize, shown: &str) -> Result<()> {
    if len > MAX_PIPELINE_BYTES {
        return Err(Error::usage(format!(
            "{shown}: the pipeline file is larger than {} KiB",
            MAX_PIPELINE_BYTES / 1024
        ))
        .with_hint(
            "a pipeline file describes one build; keep it under 1 MiB (is this the right file?)",
        ));
    }
    Ok(())
}

/// An upper bound on YAML nesting, in one pass over the text: flow brackets (`[`, `{`) outside
/// quotes and comments, plus block levels (indentation, and `- ` items opened on one line).
fn check_nesting(text: &str, shown: &str) -> Result<()> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if flow == 0 && !trimmed.is_empty() && !trimmed.starts_with('#') {
            let indent = line.len() - trimmed.len();
            while indents.last().is_some_and(|i| *i >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        // `- - - x` opens one block sequence per dash on a single line.
        let mut rest = trimmed;
        let mut dashes = 0usize;
        while let Some(r) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
            dashes += 1;
            rest = r.trim_start();
        }
        let (mut single, mut double, mut prev) = (false, false, ' ');
        let mut deepest = flow;
        for c in line.chars() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single && prev != '\\' => double = !double,
                '#' if !single && !double && prev.is_whitespace() => break,
                '[' | '{' if !single && !double => {
                    flow += 1;
                    deepest = deepest.max(flow);
                }
                ']' | '}' if !single && !double => flow = flow.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
        let depth = indents.len() + dashes + deepest;
        if depth > MAX_PIPELINE_DEPTH {
            return Err(Error::usage(format!(
                "{shown}:{}: the pipeline file nests deeper than {MAX_PIPELINE_DEPTH} levels",
                number + 1
            ))
            .with_hint("a pipeline needs a few levels of nesting; is this the right file?"));
        }
    }
    Ok(())
}

/// Secrets however they are written: webhook header values and HMAC secrets, and so are
/// a webhook URL's userinfo and its query values named like secrets (see
/// [`Redactor::add_url_parts`]); the rest of the URL stays readable.
/// Build args and image env named like credentials are secrets too.
fn register_literal_secrets(file: &PipelineFile, redactor: &Redactor) {
    if let Some(key) = &file.sign.key {
        crate::sign::backends::pkcs11::register_pin(&crate::sign::KeySource::parse(key), redactor);
    }
    for hook in &file.push.register {
        for v in hook.headers.values() {
            // `Bearer TOKEN`: the token is the secret, the scheme stays readable.
            match v.trim().split_once(' ') {
                Some((scheme, token)) if scheme.chars().all(|c| c.is_ascii_alphabetic()) => {
                    redactor.add(token.trim().to_string())
                }
                _ => redactor.add(v.clone()),
            }
        }
        if let Some(secret) = &hook.secret {
            redactor.add(secret.clone());
        }
        redactor.add_url_parts(&hook.url);
    }
    // Build args and image env named like a credential (`NPM_TOKEN`), however written: Docker
    // prints what a `RUN` echoes.
    let named = |m: &std::collections::BTreeMap<String, String>| {
        for (k, v) in m {
            if crate::spec::template::is_secret_name(k) {
                redactor.add(v.clone());
            }
        }
    };
    if let Some(d) = &file.build.dockerfile {
        named(&d.args);
    }
    if let Some(c) = &file.build.customize {
        named(&c.env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("canary-secret-123".into()),
            _ => None,
        }
    }

    fn parse_str(text: &str) -> Result<LoadedPipeline> {
        parse(text, Path::new("p.yaml"), &env, &Redactor::default())
    }

    const MINIMAL: &str = "version: 1\nbuild:\n  customize:\n    base: scratch\n";

    #[test]
    fn checks_defer_unset_secrets_and_nothing_else() {
        let text = format!(
            "{MINIMAL}push:\n  repository: ${{IMAGE_REPOSITORY:-}}\n  register:\n    - url: https://hooks.example.test/x\n      secret: ${{WEBHOOK_SECRET}}\n"
        );
        // A run needs the secret; a check lists it, located.
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(err.contains("`WEBHOOK_SECRET` is not set"), "{err}");
        let (p, later) =
            parse_for_check(&text, Path::new("p.yaml"), &env, &Redactor::default()).unwrap();
        assert_eq!(
            later,
            [GivenAtRunTime {
                name: "WEBHOOK_SECRET".into(),
                at: "p.yaml:9:15".into()
            }]
        );
        // An unset repository default is the local store only.
        assert!(p.file.push.repository.is_none());
        // An ordinary variable stays an error, at its place.
        let ordinary = format!("{MINIMAL}push:\n  repository: ${{REPO}}\n");
        let err = parse_for_check(&ordinary, Path::new("p.yaml"), &env, &Redactor::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.yaml:6:15: environment variable `REPO`"),
            "{err}"
        );
        // Written empty by hand: still refused.
        let empty = format!("{MINIMAL}push:\n  repository: \"\"\n");
        assert!(
            parse_str(&empty).is_err() || parse_str(&empty).unwrap().file.push.repository.is_some()
        );
        assert_eq!(
            run_time_secrets(&format!("{text}sign:\n  key: env://COSIGN_PRIVATE_KEY\n")),
            ["COSIGN_PASSWORD", "COSIGN_PRIVATE_KEY", "WEBHOOK_SECRET"]
        );
    }

    #[test]
    fn an_unsigned_run_needs_no_webhook_secret_and_every_other_one() {
        let text = format!(
            "{MINIMAL}    user: ${{NPM_TOKEN}}\npush:\n  register:\n    - url: https://hooks.example.test/x\n      secret: ${{WEBHOOK_SECRET}}\n"
        );
        let deferred = |text: &str| {
            parse_for_unsigned_run(text, Path::new("p.yaml"), &env, &Redactor::default())
        };
        // NPM_TOKEN is used outside push.register: still needed (and reported at its place).
        let err = deferred(&text).unwrap_err().to_string();
        assert!(err.contains("`NPM_TOKEN` is not set"), "{err}");
        let only_webhooks = format!(
            "{MINIMAL}push:\n  register:\n    - url: https://hooks.example.test/x\n      secret: ${{WEBHOOK_SECRET}}\n"
        );
        let (_, later) = deferred(&only_webhooks).unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].name, "WEBHOOK_SECRET");
        // A webhook secret also used elsewhere stays needed.
        let shared = format!(
            "{MINIMAL}    user: ${{WEBHOOK_SECRET}}\npush:\n  register:\n    - url: https://hooks.example.test/x\n      secret: ${{WEBHOOK_SECRET}}\n"
        );
        assert!(deferred(&shared).is_err());
    }

    #[test]
    fn minimal_file_parses() {
        let p = parse_str(MINIMAL).unwrap();
        assert_eq!(p.file.build.customize.unwrap().base, "scratch");
    }

    #[test]
    fn unknown_key_has_location_path_and_hint() {
        let text =
            "version: 1\nbuild:\n  customize:\n    base: scratch\n  scan:\n    fail_onn: high\n";
        let err = parse_str(text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("p.yaml:6:5:"), "{msg}");
        assert!(msg.contains("build.scan"), "{msg}");
        assert_eq!(err.hint(), Some("did you mean `fail_on`?"));
    }

    #[test]
    fn wrong_type_is_located() {
        let err = parse_str(
            "version: 1\nsource:\n  allow_dirty: maybe\nbuild:\n  customize:\n    base: scratch\n",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:3:"), "{err}");
        assert!(err.to_string().contains("source.allow_dirty"), "{err}");
    }

    #[test]
    fn missing_required_field() {
        let err = parse_str("version: 1\n").unwrap_err();
        assert!(err.to_string().contains("missing field `build`"), "{err}");
    }

    #[test]
    fn malformed_yaml_is_located() {
        let err = parse_str("version: 1\nbuild: [\n").unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:"), "{err}");
        assert_eq!(err.exit_code(), crate::ExitCode::Usage);
    }

    #[test]
    fn env_interpolation_and_redaction() {
        let r = Redactor::default();
        let text = format!("{MINIMAL}push:\n  register:\n    - url: https://x.example/\n      headers: {{ Authorization: \"Bearer ${{TOKEN}}\" }}\n");
        let p = parse(&text, Path::new("p.yaml"), &env, &r).unwrap();
        assert_eq!(
            p.file.push.register[0].headers["Authorization"],
            "Bearer canary-secret-123"
        );
        assert_eq!(r.apply("Bearer canary-secret-123"), "Bearer ***");
    }

    #[test]
    fn unset_variable_is_an_error_with_position() {
        let err = parse_str("version: 1\nname: ${NOPE}\nbuild:\n  customize:\n    base: scratch\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:2:7:"), "{err}");
        assert!(err.to_string().contains("NOPE"), "{err}");
        let ok = parse_str(
            "version: 1\nname: ${NOPE:-fallback}\nbuild:\n  customize:\n    base: scratch\n",
        )
        .unwrap();
        assert_eq!(ok.file.name.as_deref(), Some("fallback"));
    }

    /// Every block of the file says what it means written with nothing under it (its entries
    /// commented out): the same text in the JSON schema (`cleanpipe schema`) and in docs/pipeline.md.
    #[test]
    fn every_block_says_what_it_means_written_empty() {
        let schema =
            serde_json::to_value(schemars::schema_for!(crate::spec::model::PipelineFile)).unwrap();
        let defs = schema["$defs"].clone();
        fn is_block(s: &serde_json::Value, defs: &serde_json::Value, depth: usize) -> bool {
            if depth > 4 {
                return false;
            }
            let kinds = match &s["type"] {
                serde_json::Value::String(t) => vec![t.as_str()],
                serde_json::Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
                _ => vec![],
            };
            if kinds.iter().any(|k| *k == "object" || *k == "array") {
                return true;
            }
            if let Some(r) = s["$ref"].as_str() {
                let name = r.rsplit('/').next().unwrap();
                return is_block(&defs[name], defs, depth + 1);
            }
            ["anyOf", "oneOf"].iter().any(|k| {
                s[k].as_array()
                    .is_some_and(|v| v.iter().any(|x| is_block(x, defs, depth + 1)))
            })
        }
        let mut objects = vec![("PipelineFile".to_string(), schema.clone())];
        for (name, def) in defs.as_object().unwrap() {
            objects.push((name.clone(), def.clone()));
        }
        let mut blocks = 0;
        for (name, object) in objects {
            let Some(properties) = object["properties"].as_object() else {
                continue;
            };
            for (key, property) in properties {
                if !is_block(property, &defs, 0) {
                    continue;
                }
                blocks += 1;
                let description = property["description"].as_str().unwrap_or("");
                assert!(
                    description.to_lowercase().contains("written empty"),
                    "{name}.{key} does not say what it means written empty: {description:?}"
                );
            }
        }
        assert!(blocks > 30, "{blocks}");
    }

    #[test]
    fn a_block_written_empty_is_never_a_block_left_out() {
        // The gates take their defaults: a scan block with its keys commented out still scans.
        let text = format!("{MINIMAL}  scan:\n    # db: osv\n    # fail_on: low\n");
        let p = parse_str(&text).unwrap();
        let scan = p.file.build.scan.expect("the gate is there");
        assert!(scan.db.is_none() && scan.fail_on.is_none() && scan.waivers.is_empty());
        let text = format!("{MINIMAL}verify_base:\n  scan:\n");
        assert!(parse_str(&text).unwrap().file.verify_base.scan.is_some());
        for block in ["source", "verify_base", "sign", "push"] {
            let text = format!("{MINIMAL}{block}:\n  # commented: out\n");
            let p = parse_str(&text).unwrap_or_else(|e| panic!("{block}: {e}"));
            assert!(p.file.build.scan.is_none());
            assert!(!p.file.source.allow_dirty && p.file.push.register.is_empty());
        }
        let p = parse_str("version: 1\nbuild:\n  dockerfile:\n").unwrap();
        assert_eq!(p.file.build.dockerfile.unwrap().path, "Dockerfile");
        // Blocks whose empty form would drop rules, or is ambiguous: exit 2 at the key's line.
        for (text, at, path) in [
            (
                format!("{MINIMAL}push:\n  register:\n    # - url: https://deploy.example/\n"),
                "p.yaml:6:3:",
                "push.register",
            ),
            (
                format!("{MINIMAL}verify_base:\n  images:\n"),
                "p.yaml:6:3:",
                "verify_base.images",
            ),
            (
                format!("{MINIMAL}push:\n  register:\n    - url: https://x.example/\n      on:\n"),
                "p.yaml:8:7:",
                "push.register[0].on",
            ),
            (
                format!("{MINIMAL}sign:\n  sbom: ~\n"),
                "p.yaml:6:3:",
                "sign.sbom",
            ),
            (
                format!("{MINIMAL}sign:\n  keyless:\n"),
                "p.yaml:6:3:",
                "sign.keyless",
            ),
            (format!("{MINIMAL}    entrypoint:\n"), "p.yaml:5:5:", "build.customize.entrypoint"),
            (format!("{MINIMAL}  platforms:\n"), "p.yaml:5:3:", "build.platforms"),
            (
                format!("{MINIMAL}verify_base:\n  identities:\n    vendor:\n      identity: a\n      issuer: b\n      github:\n"),
                "p.yaml:10:7:",
                "verify_base.identities.vendor.github",
            ),
            (
                format!("{MINIMAL}sign:\n  keyless:\n    identity_token:\n"),
                "p.yaml:7:5:",
                "sign.keyless.identity_token",
            ),
            ("version: 1\nbuild:\n".to_string(), "p.yaml:2:1:", "build"),
        ] {
            let err = parse_str(&text).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with(at), "{text}: {msg}");
            assert!(msg.contains(&format!("`{path}`")), "{text}: {msg}");
            assert!(msg.contains("nothing under it"), "{msg}");
            assert_eq!(err.exit_code(), crate::ExitCode::Usage);
        }
    }

    #[test]
    fn version_must_be_one() {
        let err = parse_str("version: 2\nbuild:\n  customize:\n    base: scratch\n").unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:1:1:"), "{err}");
    }
}
