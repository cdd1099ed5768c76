//! The five stages, in run order. Each takes the run context and the outputs of the stages
//! before it, and returns its own typed output or an error (a failed gate stops the run).
//! Stages do not call each other, except that both gates use [`scan_gate`].

pub mod build;
pub mod publish;
pub mod scan_gate;
pub mod sign;
pub mod source;
pub mod verify_base;
