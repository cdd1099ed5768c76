//! The pipeline file, resolved once: its model (serde), loading with templates and secrets,
//! repository paths, the bases it uses, and the checks every command shares (`validate`,
//! `plan`, `base outdated`, `run`). Nothing here runs a stage; [`crate::run`] does that over
//! what this module resolved.

pub mod bases;
pub mod load;
pub mod model;
pub mod paths;
pub mod plan;
pub mod reference;
pub mod resolve;
pub mod template;

pub use load::{load, LoadedPipeline};
pub use plan::Plan;
pub use resolve::Spec;
