//! The pipeline loader on arbitrary text: every input is a pipeline or a located error, never a
//! panic or a hang (the size and nesting bounds are checked before YAML parsing).
#![no_main]
use cleanpipe::spec::load;
use cleanpipe::redact::Redactor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "FUZZ_SET").then(|| "value-1234".to_string());
    let _ = load::parse(
        text,
        std::path::Path::new("/nonexistent/fuzz/pipeline.yaml"),
        &env,
        &Redactor::default(),
    );
});
