//! Bulk imports from CSV: users, invitations and documents.
//!
//! The pipeline is the same for every kind: [`csv_input`] reads the file (row by row, through
//! [`records`]), [`plan`] validates every row in a first pass and yields them again in a
//! second (a kind module says what a row means; [`keys`] keeps a hash per row in between),
//! [`engine`] sends the valid rows with bounded concurrency while [`journal`] records each
//! outcome durably, and [`report`] writes the summary and the failures CSV. [`files`] keeps
//! the outputs from overwriting an input.

pub mod csv_input;
pub mod documents;
pub mod engine;
pub mod fields;
pub mod files;
pub mod invitations;
pub mod journal;
pub mod keys;
pub mod plan;
pub mod progress;
pub mod records;
pub mod report;
pub mod submitters;
pub mod users;

#[cfg(test)]
mod engine_tests;
