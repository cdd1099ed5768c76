//! `outputs/cleanpipe.env`: the run's status, digest, image and tags as a dotenv file (GitLab's
//! `artifacts:reports:dotenv`, or `source` in any shell step).

use crate::run::executor::RunReport;
use crate::run::sinks::{Finished, Sink, Written};

/// The dotenv file, written on every run. Required once the run succeeded.
pub struct Dotenv;

impl Sink for Dotenv {
    fn name(&self) -> &'static str {
        "the dotenv file"
    }

    fn write<'a>(&'a self, run: &'a Finished<'a>) -> Written<'a> {
        Box::pin(async move {
            let redactor = &run.ctx.redactor;
            let text = dotenv(run.report, &|text: &str| redactor.apply(text));
            crate::fsutil::write_atomic(
                &run.ctx.outputs_dir.join("cleanpipe.env"),
                redactor.apply(&text).as_bytes(),
            )?;
            Ok(vec![])
        })
    }
}

fn dotenv(report: &RunReport, clean: &dyn Fn(&str) -> String) -> String {
    let quoted = |s: &str| format!("\"{}\"", clean(s).replace(['\r', '\n', '"', '\\'], " "));
    let mut out = format!("CLEANPIPE_STATUS={}\n", quoted(&report.status));
    if let Some(p) = &report.published {
        out.push_str(&format!("CLEANPIPE_DIGEST={}\n", quoted(p.digest.as_str())));
        out.push_str(&format!("CLEANPIPE_IMAGE={}\n", quoted(&p.image)));
        out.push_str(&format!("CLEANPIPE_TAGS={}\n", quoted(&p.tags.join(","))));
    }
    out
}
