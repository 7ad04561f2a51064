//! Shared fixtures: keys, known answers, providers, polling helper.

use std::future::Future;
use std::time::Duration;

use floorline_prober::reference::{Behaviour, KnownAnswer, ReferenceProvider};
use floorline_prober::signature::SigningKey;
use floorline_prober::CatalogEntry;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Generous timeout for probes expected to answer (never the thing tested).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Short timeout for probes expected to time out.
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

pub fn http() -> reqwest::Client {
    floorline_prober::http_client().unwrap()
}

pub fn key(seed: u64) -> SigningKey {
    SigningKey::random(&mut StdRng::seed_from_u64(seed))
}

pub fn answer() -> KnownAnswer {
    KnownAnswer::new("llama-3.1-70b", "Name the capital of France.", "Paris.")
}

/// The catalog entry for [`answer`], proving 64 GB.
pub fn entry() -> CatalogEntry {
    answer().catalog_entry(Some(64))
}

pub fn provider(behaviour: Behaviour) -> ReferenceProvider {
    let small = KnownAnswer::new("qwen-2.5-7b", "2+2=", "4");
    ReferenceProvider::new(key(11), [answer(), small]).with_behaviour(behaviour)
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
