//! Demo: probes a loopback reference provider in each behaviour and prints
//! one verdict JSON line per behaviour (the honest one passes, every other
//! fails with its own reason).
//!
//! `cargo run -p floorline-prober --example probe_demo`

use std::time::Duration;

use floorline_prober::reference::{Behaviour, KnownAnswer, ReferenceProvider};
use floorline_prober::signature::SigningKey;
use floorline_prober::{http_client, probe_once};
use rand::rngs::OsRng;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let answer = KnownAnswer::new("llama-3.1-70b", "Name the capital of France.", "Paris.");
    let entry = answer.catalog_entry(Some(64));
    let honest = ReferenceProvider::new(SigningKey::random(&mut OsRng), [answer]);
    let key = honest.public_key_x963_b64();
    let http = http_client()?;
    for behaviour in Behaviour::ALL {
        let provider = honest.clone().with_behaviour(behaviour);
        let running = provider.spawn().await?;
        let timeout = Duration::from_millis(500);
        let machine_id = format!("mac-{behaviour:?}").to_lowercase();
        let verdict = probe_once(
            &http,
            &running.url,
            &machine_id,
            Some(&key),
            &entry,
            timeout,
            &mut OsRng,
        )
        .await;
        println!(
            "{:<13} {}",
            format!("{behaviour:?}"),
            serde_json::to_string(&verdict)?
        );
    }
    Ok(())
}
