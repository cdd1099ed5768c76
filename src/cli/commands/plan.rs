use std::collections::BTreeMap;

use crate::cli::args::{OutputFormat, PlanArgs};
use crate::cli::printer::Printer;
use crate::cli::settings::{self, PipelineSettings};
use crate::error::{ExitCode, Result};
use crate::pipeline::Plan;
use crate::redact::Redactor;

pub fn plan(
    args: &PlanArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let pipeline = settings::load_pipeline(&args.pipeline, env, redactor)?;
    let s = PipelineSettings::resolve(&pipeline)?;
    let plan = Plan::new(
        &pipeline,
        &s.name,
        &s.store.display().to_string(),
        &s.outputs.display().to_string(),
    )?;
    if args.output == OutputFormat::Json {
        printer.data(&serde_json::to_string_pretty(&plan).expect("plan serializes"));
        return Ok(ExitCode::Success);
    }
    let mut out = format!("pipeline {} ({})\n", plan.name, pipeline.path.display());
    for (i, stage) in plan.stages.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {:<12} gate: {}\n",
            i + 1,
            stage.name,
            stage.gate
        ));
    }
    for b in &plan.bases {
        out.push_str(&format!(
            "  base {} ({}) digest: {} key: {}\n",
            b.reference,
            b.origin,
            b.digest
                .as_deref()
                .unwrap_or("NOT PINNED (the gate will fail)"),
            b.key.as_deref().unwrap_or("(none)")
        ));
    }
    out.push_str(&format!("  store: {}\n", plan.store));
    out.push_str(&format!(
        "  target: {} tags {}",
        plan.repository.as_deref().unwrap_or("the local layout"),
        plan.tags.join(", ")
    ));
    printer.data(&out);
    Ok(ExitCode::Success)
}
