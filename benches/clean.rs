//! The cost of cleaning what strangers send: message text of the largest allowed size, plain
//! and mixed with emoji sequences and Indic script, and names, ordinary and hostile. Cleaning
//! runs on every `chat_send`, `chat_join` and `chat_nick` before any limit is checked.
//!
//! `cargo bench --bench clean`; results in docs/BENCHMARKS.md.

use chatroom::text::{clean_name, clean_text};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// `--max-text-bytes`' default.
const TEXT_BYTES: usize = 4096;

fn repeat_to(piece: &str, bytes: usize) -> String {
    piece.repeat(bytes / piece.len() + 1)[..bytes].to_owned()
}

fn cleaning(c: &mut Criterion) {
    let ascii = repeat_to("The quick brown fox jumps over the lazy dog. ", TEXT_BYTES);
    let mixed: String = "deploy 👩‍💻 done 🏳️‍🌈 क्षत्रिय می‌خواهم 👍🏽 ok "
        .chars()
        .cycle()
        .scan(0, |len, c| {
            *len += c.len_utf8();
            (*len <= TEXT_BYTES).then_some(c)
        })
        .collect();
    let hostile_name = "a\u{200B}\u{E0041}I\u{FE0F}".repeat(12_000);
    c.bench_function("clean_text 4 KiB ascii", |b| {
        b.iter(|| clean_text(black_box(&ascii)))
    });
    c.bench_function("clean_text 4 KiB mixed", |b| {
        b.iter(|| clean_text(black_box(&mixed)))
    });
    c.bench_function("clean_name alice", |b| {
        b.iter(|| clean_name(black_box("alice")))
    });
    c.bench_function("clean_name 60k hostile characters", |b| {
        b.iter(|| clean_name(black_box(&hostile_name)))
    });
}

criterion_group!(benches, cleaning);
criterion_main!(benches);
