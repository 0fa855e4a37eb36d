//! What the end-to-end tests (`e2e/`) and the chaos harness (`chaos/`) share: a TCP proxy
//! that cuts or slows links, and a private PostgreSQL cluster and Redis to restart and crash.

pub mod postgres;
pub mod proxy;
pub mod redis;

pub use postgres::OwnPostgres;
pub use proxy::Proxy;
pub use redis::{free_port, OwnRedis};
