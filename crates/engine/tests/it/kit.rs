//! An engine over a real SQLite store at a literal clock.

use std::sync::Arc;

use floorline_core::Timestamp;
use floorline_engine::clock::FixedClock;
use floorline_engine::config::Config;
use floorline_engine::Engine;
use floorline_store::Store;

/// An engine on the database `url` (migrated), configured by the TOML text
/// `config`, whose clock stands at `now`.
pub async fn engine(url: &str, now: &str, config: &str) -> Engine {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let config = Config::load(config, "floorline.toml", Vec::new()).unwrap();
    Engine::new(
        store,
        config,
        Arc::new(FixedClock(Timestamp::parse(now).unwrap())),
    )
}
