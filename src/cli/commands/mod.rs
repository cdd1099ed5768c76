//! One function per command: takes resolved arguments and the printer, returns an exit code.

mod base;
mod copy;
mod db;
mod init;
mod keygen;
mod plan;
mod run;
mod sbom;
mod scan;
mod sign;
mod verify;
mod vex;

use crate::cli::args::Command;
use crate::cli::env_vars;
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::error::{ExitCode, Result};
use crate::redact::Redactor;

pub async fn dispatch(
    command: Command,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<ExitCode> {
    let env = env_vars::snapshot();
    match command {
        Command::Run(args) => run::run(&args, &env, printer, redactor).await,
        Command::Validate(args) => {
            let (pipeline, later) = plan::load_for_check(&args, &env, redactor)?;
            crate::spec::Spec::resolve(&pipeline, true)?;
            plan::report_given_at_run_time(&later, printer);
            printer.status(&format!("{}: valid", pipeline.path.display()));
            Ok(ExitCode::Success)
        }
        Command::Plan(args) => plan::plan(&args, &env, printer, redactor),
        Command::Verify(args) => verify::verify(&args, &env, printer, redactor).await,
        Command::Sign(args) => sign::sign(&args, &env, printer, redactor).await,
        Command::Copy(args) => copy::copy(&args, printer, redactor).await,
        Command::Sbom(args) => sbom::sbom(&args, printer, redactor).await,
        Command::Scan(args) => scan::scan(&args, printer, redactor).await,
        Command::Db(crate::cli::args::DbCommand::Update(args)) => {
            db::update(&args, &env, printer, redactor).await
        }
        Command::Db(crate::cli::args::DbCommand::Push(args)) => {
            db::push(&args, &env, printer, redactor).await
        }
        Command::Db(crate::cli::args::DbCommand::Pull(args)) => {
            db::pull(&args, &env, printer, redactor).await
        }
        Command::Db(crate::cli::args::DbCommand::Stats { path, dir, format }) => {
            db::stats(path.as_deref(), dir.as_deref(), format, printer)
        }
        Command::Vex(crate::cli::args::VexCommand::Create(args)) => {
            vex::create(&args, printer, redactor).await
        }
        Command::Vex(crate::cli::args::VexCommand::Check { files }) => vex::check(&files, printer),
        Command::Vex(crate::cli::args::VexCommand::Attest(args)) => {
            vex::attest(&args, &env, printer, redactor).await
        }
        Command::Keygen(args) => keygen::keygen(&args, &env, printer, redactor),
        Command::PublicKey(args) => keygen::public_key(&args, &env, printer, redactor),
        Command::Init(args) => init::init(&args, &env, printer, redactor),
        Command::Audit(crate::cli::args::AuditCommand::Verify { path, head }) => {
            let chain = crate::run::audit::verify(&path)?;
            if let Some(expected) = head.filter(|h| h != &chain.head) {
                return Err(crate::Error::gate(
                    format!(
                        "{}: the chain is intact but its head is {}, not {expected}",
                        path.display(),
                        chain.head
                    ),
                    vec![],
                )
                .with_hint("the newest records were removed or edited, or records were added since that head was kept"));
            }
            printer.status(&format!(
                "{}: {} record(s), chain intact",
                path.display(),
                chain.records
            ));
            printer.data(&chain.head);
            Ok(ExitCode::Success)
        }
        Command::Base(crate::cli::args::BaseCommand::Outdated(args)) => {
            base::base(&args, false, false, &env, printer, redactor).await
        }
        Command::Base(crate::cli::args::BaseCommand::Update { args, write }) => {
            base::base(&args, write, true, &env, printer, redactor).await
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(
                shell,
                &mut <crate::cli::args::Cli as clap::CommandFactory>::command(),
                "cleanpipe",
                &mut out,
            );
            printer.data(String::from_utf8_lossy(&out).trim_end());
            Ok(ExitCode::Success)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<crate::cli::args::Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| {
                    crate::Error::environment("cannot render the man page").caused_by(e)
                })?;
            printer.data(String::from_utf8_lossy(&out).trim_end());
            Ok(ExitCode::Success)
        }
        Command::Schema { markdown: true } => {
            printer.data(crate::spec::reference::markdown().trim_end());
            Ok(ExitCode::Success)
        }
        Command::Schema { markdown: false } => {
            let schema = schemars::schema_for!(crate::spec::model::PipelineFile);
            printer.data(&serde_json::to_string_pretty(&schema).expect("schema serializes"));
            Ok(ExitCode::Success)
        }
    }
}

/// An image named on the command line, made readable in a layout (registry images are pulled
/// into a temporary one that lives as long as this value).
struct LocalImage {
    image: crate::oci::reference::ImageRef,
    layout: crate::oci::layout::Layout,
    resolved: crate::oci::store::Resolved,
    manifest: crate::oci::types::Manifest,
    _scratch: tempfile::TempDir,
}
/// A layout image is written under the same lock as a run on that layout (saying whom it waits
/// for); a registry image needs none.
async fn lock_layout(
    image: &crate::oci::reference::ImageRef,
    printer: &Printer,
) -> Result<Option<crate::oci::layout::StoreLock>> {
    match image {
        crate::oci::reference::ImageRef::Layout(l) => Ok(Some(
            crate::oci::layout::lock_store(&l.dir, |holder| {
                printer.status(&format!(
                    "waiting for another cleanpipe run using {} (pid {holder})…",
                    l.dir.display()
                ))
            })
            .await?,
        )),
        crate::oci::reference::ImageRef::Registry(_) => Ok(None),
    }
}

async fn local_image(
    reference: &str,
    registry: &crate::cli::args::RegistryArgs,
    printer: &Printer,
    redactor: &Redactor,
) -> Result<LocalImage> {
    let image = crate::oci::reference::ImageRef::parse(reference)?;
    let remote = settings::remote_options(registry, redactor)?
        .with_progress(crate::cli::reporters::progress(printer));
    let scratch = tempfile::tempdir().map_err(|e| {
        crate::Error::io(
            "cannot create a temporary directory",
            std::env::temp_dir(),
            e,
        )
    })?;
    let (layout, resolved) =
        crate::oci::store::materialize(&image, &remote, scratch.path()).await?;
    let manifest = crate::oci::types::Manifest::from_slice(&resolved.bytes, &image.to_string())?;
    Ok(LocalImage {
        image,
        layout,
        resolved,
        manifest,
        _scratch: scratch,
    })
}
