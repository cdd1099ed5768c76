//! Running a resolved pipeline: the executor (order, timing, cancellation), the run context
//! handed to every stage, the five stages, and the audit log of runs.

pub mod audit;
pub mod context;
pub mod executor;
pub mod sinks;
pub mod stages;

pub use context::{Event, PasswordSource, Reporter, RunContext, Silent, STAGE_NAMES};
pub use executor::{execute, RunReport};

#[cfg(test)]
mod tests;
