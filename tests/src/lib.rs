//! What the end-to-end tests (`e2e/`) and the chaos harness (`chaos/`) share: a TCP proxy
//! that cuts or slows links, and a private PostgreSQL cluster to restart and crash.

pub mod postgres;
pub mod proxy;

pub use postgres::OwnPostgres;
pub use proxy::Proxy;
