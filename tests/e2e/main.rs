//! End-to-end: the generated client talks to a real router over TCP, on SQLite and PostgreSQL.

mod support;

mod access;
mod addresses;
mod backup;
mod bad_input;
mod calendar;
mod cluster;
mod corpus;
mod escalation;
mod faults;
mod hotspots;
mod incidents;
mod knowledge;
mod kpis;
mod learning;
mod lifecycle;
mod operations;
mod overload;
mod rebuild_races;
mod replicas;
mod routing;
mod routing_duplicates;
