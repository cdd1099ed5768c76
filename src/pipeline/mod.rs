//! The pipeline file (model, loading, templates), what a run would do (plan), and the
//! executor that runs the five stages in order as hard gates.

pub mod executor;
pub mod load;
pub mod model;
pub mod paths;
pub mod plan;
pub mod template;

pub use executor::{execute, RunReport};
pub use load::{load, LoadedPipeline};
pub use plan::Plan;
