//! Throughput of the reaction kernels beside the plain `Vec` stack, and the
//! whole job (validate, full reaction, all 26 letters) on the shipped input.
//!
//! ```text
//! cargo bench --bench reaction               # everything
//! cargo bench --bench reaction -- whole_job  # just the whole job
//! cargo bench --bench reaction -- kernel/50k # one input size
//! ```

use std::hint::black_box;

#[path = "baseline/sweep_6593806.rs"]
mod baseline;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use polymer_fanout::polymer::{self, Polymer, generate};

fn kernels(c: &mut Criterion) {
    for (name, units) in [("50k", 50_000), ("10M", 10_000_000), ("100M", 100_000_000)] {
        let input = generate::polymer(units, 1);
        let mut group = c.benchmark_group(format!("kernel/{name}"));
        group.throughput(Throughput::Bytes(units as u64));
        if units >= 10_000_000 {
            group.sample_size(10);
        }
        group.bench_function("plain_stack", |b| {
            b.iter(|| polymer::react_with_plain_stack(black_box(&input)).len())
        });
        let validated = Polymer::parse(input.clone()).expect("generated polymers are valid");
        group.bench_function("interleaved", |b| {
            b.iter_batched_ref(
                || validated.clone(),
                |polymer| black_box(polymer).react(),
                BatchSize::LargeInput,
            )
        });
        group.bench_function("parallel_2_threads", |b| {
            b.iter_batched_ref(
                || validated.clone(),
                |polymer| black_box(polymer).react_parallel(2),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

/// The whole job on the shipped input: today's `solve`, and the baseline
/// (the version of commit 6593806) measured in the same run.
fn whole_job(c: &mut Criterion) {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inputs/polymer-50k.txt"
    ))
    .expect("the shipped input is in inputs/");
    let today = polymer::solve(raw.clone()).expect("valid input");
    assert_eq!(
        baseline::solve(raw.clone()),
        (today.full_length, today.lengths),
        "the baseline gives the same answer"
    );
    let mut group = c.benchmark_group("whole_job/polymer-50k");
    group.bench_function("solve", |b| {
        b.iter_batched(
            || raw.clone(),
            |raw| {
                polymer::solve(black_box(raw))
                    .expect("valid input")
                    .minimum()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline_6593806", |b| {
        b.iter_batched(
            || raw.clone(),
            |raw| baseline::solve(black_box(raw)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inputs/polymer-50k.txt"
    ))
    .expect("the shipped input is in inputs/");
    let mut reacted = Polymer::parse(raw).expect("valid input");
    reacted.react();
    c.bench_function("sweep/polymer-50k-reacted", |b| {
        b.iter(|| polymer::lengths_without_each(black_box(reacted.units())))
    });
}

criterion_group!(benches, whole_job, sweep, kernels);
criterion_main!(benches);
