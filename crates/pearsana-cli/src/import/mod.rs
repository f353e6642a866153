//! Bulk imports from CSV: users, invitations and documents.
//!
//! The pipeline is the same for every kind: [`csv_input`] reads the file, [`plan`] validates
//! every row up front (a kind module says what a row means), [`engine`] sends the valid rows
//! with bounded concurrency while [`journal`] records each outcome durably, and [`report`]
//! writes the summary and the failures CSV.

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
pub mod report;
pub mod submitters;
pub mod users;

#[cfg(test)]
mod engine_tests;
