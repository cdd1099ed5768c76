use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cli::args::RunArgs;
use crate::cli::env_vars;
use crate::cli::printer::Printer;
use crate::cli::settings::{self, PipelineSettings};
use crate::error::{Error, ExitCode, Result};
use crate::redact::Redactor;
use crate::run::executor::{execute, RunReport};
use crate::run::sinks::gitlab::ContainerScanning;
use crate::run::sinks::{self, Finished, Notice, Sink};
use crate::run::{Event, Reporter, RunContext};

/// The run's listeners: progress lines to the terminal, events to the CI outputs that need
/// more than the final report.
struct Listeners {
    printer: Printer,
    gitlab: Arc<ContainerScanning>,
}

impl Reporter for Listeners {
    fn message(&self, stage: &str, text: &str) {
        self.printer.status(&format!("  [{stage}] {text}"));
    }

    fn warning(&self, stage: &str, text: &str) {
        self.printer.warn(&format!("[{stage}] {text}"));
    }

    fn event(&self, event: &Event<'_>) {
        self.gitlab.on_event(event);
    }
}

pub async fn run(
    args: &RunArgs,
    env: &BTreeMap<String, String>,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    if args
        .unsigned
        .as_deref()
        .is_some_and(|r| r.trim().is_empty())
    {
        return Err(Error::usage("`--unsigned` needs a reason")
            .with_hint("say why this run signs nothing, e.g. `--unsigned \"pull request: build and scan only\"`"));
    }
    for path in args.report.iter().chain(args.audit_log.iter()) {
        // Refused before anything runs, not after the image was published.
        crate::fsutil::check_write_target(path)?;
    }
    let annotated = |e: crate::Error| {
        if let Some(annotation) = sinks::github::annotate_error(&e, env, redactor) {
            printer.data(&annotation);
        }
        e
    };
    let pipeline = if args.unsigned.is_some() {
        // Nothing is pushed and no webhook called: their secrets are not needed.
        let path = settings::pipeline_path(&args.pipeline).map_err(annotated)?;
        let (pipeline, unused) = crate::spec::load::load_for_unsigned_run(
            &path,
            &|name| env.get(name).cloned(),
            redactor,
        )
        .map_err(annotated)?;
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|g| g.name.as_str()).collect();
            printer.status(&format!(
                "not needed by an unsigned run (no push, no webhook): {}",
                names.join(", ")
            ));
        }
        pipeline
    } else {
        settings::load_pipeline(&args.pipeline, env, redactor).map_err(annotated)?
    };
    let resolved = PipelineSettings::resolve(&pipeline).map_err(annotated)?;
    let progress = crate::cli::reporters::progress(printer);
    let remote =
        settings::remote_options(&args.registry, redactor)?.with_progress(progress.clone());
    for dir in [&resolved.store, &resolved.outputs] {
        crate::fsutil::create_state_dir(dir)?;
    }
    let _lock = crate::oci::layout::lock_store(&resolved.store, |holder| {
        printer.status(&format!(
            "waiting for another cleanpipe run using {} (pid {holder}) to finish…",
            resolved.store.display()
        ))
    })
    .await?;
    let gitlab = Arc::new(ContainerScanning::default());
    let ctx = RunContext {
        base_dir: pipeline.base_dir(),
        store_dir: resolved.store.clone(),
        outputs_dir: resolved.outputs.clone(),
        env: env.clone(),
        redactor: redactor.clone(),
        remote,
        password: settings::password_source(env, redactor),
        reporter: Arc::new(Listeners {
            printer: printer.clone(),
            gitlab: gitlab.clone(),
        }),
        progress,
        run_number: settings::run_number(env, &resolved.outputs)?,
        pipeline,
        unsigned: args.unsigned.clone(),
        clock: crate::clock::Clock::System,
    };
    printer.status(&format!(
        "cleanpipe run: {} ({})",
        resolved.name,
        ctx.pipeline.path.display()
    ));
    let on_stage = |name: &'static str| printer.status(&format!("▶ {name}"));
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let mut report = execute(&ctx, &resolved.name, interrupt, &on_stage).await;

    // The failure webhooks first: what they were told goes in the report.
    let hooks = sinks::webhook::failure_webhooks(&ctx);
    let hook_sinks: Vec<&dyn Sink> = hooks.iter().map(|h| h as &dyn Sink).collect();
    let told = sinks::finish(
        &hook_sinks,
        &Finished {
            report: &report,
            ctx: &ctx,
        },
    )
    .await?;
    report.failure_notifications = hooks.iter().filter_map(|h| h.told()).collect();
    render(printer, told);

    let finished = Finished {
        report: &report,
        ctx: &ctx,
    };
    // The report and the audit record first (the summary follows them), then the CI's outputs.
    let audit = sinks::audit::AuditLog::new(
        args.audit_log
            .clone()
            .unwrap_or_else(|| resolved.outputs.join("audit.jsonl")),
    );
    let report_json = sinks::report::ReportJson {
        also: args.report.clone(),
    };
    let recorded = sinks::finish(&[&report_json, &audit], &finished).await;
    summary(printer, &report);
    render(printer, recorded?);
    // Only a run that succeeded is vouched for by a signed record on its image.
    if let (true, Some(appended), Some(published), None) = (
        args.attest_audit,
        audit.appended(),
        &report.published,
        &report.error,
    ) {
        attest_audit(&ctx, &appended, published, printer).await?;
    }
    let gitlab = sinks::gitlab::GitLab {
        scanning: gitlab,
        default_branch_image: env
            .get(env_vars::CS_DEFAULT_BRANCH_IMAGE)
            .filter(|i| !i.is_empty())
            .cloned(),
    };
    let ci: [&dyn Sink; 4] = [
        &sinks::junit::JUnit,
        &sinks::dotenv::Dotenv,
        &sinks::github::GitHub,
        &gitlab,
    ];
    render(printer, sinks::finish(&ci, &finished).await?);
    Ok(report.exit())
}

/// `--attest-audit`: the record, signed with the pipeline's key, attached to the published image
/// and to the run's layout copy of it. A run whose record cannot be attached did not succeed.
async fn attest_audit(
    ctx: &RunContext,
    appended: &crate::run::audit::Appended,
    published: &crate::run::stages::publish::Published,
    printer: &Printer,
) -> Result<()> {
    let (signer, _) = crate::run::stages::sign::signer(ctx).await?;
    let created = crate::clock::now_rfc3339();
    let layout_image = format!("oci:{}@{}", ctx.store_dir.display(), published.digest);
    let mut places = vec![published.image.clone()];
    if places[0] != layout_image {
        places.push(layout_image);
    }
    for image in &places {
        let referrer =
            crate::run::audit::attest(appended, image, &signer, &ctx.remote, &created).await?;
        printer.status(&format!(
            "audit: record signed and attached to {image} (referrer {referrer})"
        ));
    }
    Ok(())
}

fn render(printer: &Printer, outcome: sinks::Outcome) {
    for notice in outcome.notices {
        match notice {
            Notice::Status(line) => printer.status(&line),
            Notice::Stdout(line) => printer.data(&line),
        }
    }
    for warning in outcome.warnings {
        printer.warn(&warning);
    }
}

fn summary(printer: &Printer, report: &RunReport) {
    printer.status("");
    printer.status("summary:");
    for s in &report.stages {
        printer.status(&format!(
            "  {:<12} {} {:>7} ms",
            s.name,
            printer.verdict(s.status.as_str(), 12),
            s.duration_ms
        ));
    }
    if let Some(e) = &report.error {
        printer.failure("");
        printer.error_parts(
            &e.stage.map(|s| format!("[{s}] ")).unwrap_or_default(),
            &e.message,
            &e.causes,
            &e.reasons,
            e.hint.as_deref(),
        );
        printer.failure(&format!(
            "\n{} after {} ms; nothing after the failed stage ran",
            report.status, report.duration_ms
        ));
        return;
    }
    if let Some(p) = &report.published {
        printer.status(&format!(
            "\nsucceeded in {} ms: {} tagged {}",
            report.duration_ms,
            p.image,
            p.tags.join(", ")
        ));
        printer.data(&p.image);
    }
}
