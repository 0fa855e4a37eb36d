//! Search: the derived tantivy index ([`index`]), its terms ([`tokens`]), its weights
//! ([`ranking`]), keeping it in step with the store ([`sync`]), and the offline benchmark
//! ([`eval`]) with the two baselines ([`baselines`]).

pub mod baselines;
pub mod eval;
pub mod index;
pub mod ranking;
pub mod sync;
pub mod tokens;

pub use index::{Entry, Hit, KnowledgeIndex, SearchRequest};
pub use ranking::{QueryTf, Ranking, Weights};
pub use sync::IndexSync;
