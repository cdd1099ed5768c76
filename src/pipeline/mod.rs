//! The pipeline file (model, loading, templates), what a run would do (plan), the executor
//! that runs the five stages in order as hard gates, and the runs' audit log.

pub mod audit;
pub mod executor;
pub mod load;
pub mod model;
pub mod paths;
pub mod plan;
pub mod template;

pub use executor::{execute, RunReport};
pub use load::{load, LoadedPipeline};
pub use plan::Plan;
