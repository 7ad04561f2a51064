//! Verification throughput: how many probe responses per second `judge` can
//! check (echo checks, SHA-256 of a ~1 KiB answer, base64 + DER decoding and
//! one ECDSA P-256 verification), with the key parsed per probe (as the
//! runner does) and pre-parsed.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use floorline_prober::protocol::{
    sha256_hex, signed_message, CatalogEntry, ProbeRequest, ProbeResponse,
};
use floorline_prober::signature::{encode_x963, parse_public_key, sign_b64, SigningKey};
use floorline_prober::verdict::{judge, judge_with_key, ProbeOutcome};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn bench_verify(c: &mut Criterion) {
    let sk = SigningKey::random(&mut StdRng::seed_from_u64(1));
    let key_b64 = encode_x963(sk.verifying_key());
    // ~256 tokens of answer.
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(23);
    let entry = CatalogEntry {
        model: "llama-3.1-70b".into(),
        prompt: "Repeat the pangram.".into(),
        expected_sha256: sha256_hex(&text),
        min_memory_gb: Some(64),
    };
    let request = ProbeRequest::new(
        "probe-0123456789abcdef0123456789abcdef".into(),
        "mac-studio-1".into(),
        &entry,
        "ab".repeat(32),
    );
    let hash = sha256_hex(&text);
    let outcome = ProbeOutcome::Response(ProbeResponse {
        probe_id: request.probe_id.clone(),
        nonce: request.nonce.clone(),
        text,
        response_sha256: hash.clone(),
        signature: Some(sign_b64(
            &sk,
            &signed_message(&request.probe_id, &request.nonce, &hash),
        )),
    });
    assert!(judge(&request, &entry, Some(&key_b64), &outcome).passed);

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("judge_parse_key", |b| {
        b.iter(|| {
            judge(
                black_box(&request),
                &entry,
                Some(black_box(&key_b64)),
                black_box(&outcome),
            )
        })
    });
    let key = parse_public_key(&key_b64).ok();
    group.bench_function("judge_preparsed_key", |b| {
        b.iter(|| {
            judge_with_key(
                black_box(&request),
                &entry,
                key.as_ref(),
                black_box(&outcome),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
