//! Throughput of the reaction kernels beside the plain `Vec` stack, and the
//! whole job (validate, full reaction, all 26 letters) on the shipped input.
//!
//! ```text
//! cargo bench --bench reaction               # everything
//! cargo bench --bench reaction -- whole_job  # just the whole job
//! cargo bench --bench reaction -- kernel/50k # one input size
//! ```

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use polymer_fanout::{generate, reaction};

fn kernels(c: &mut Criterion) {
    for (name, units) in [("50k", 50_000), ("10M", 10_000_000), ("100M", 100_000_000)] {
        let input = generate::polymer(units, 1);
        let mut group = c.benchmark_group(format!("kernel/{name}"));
        group.throughput(Throughput::Bytes(units as u64));
        if units >= 10_000_000 {
            group.sample_size(10);
        }
        group.bench_function("plain_stack", |b| {
            b.iter(|| reaction::react_with_plain_stack(black_box(&input)).len())
        });
        group.bench_function("interleaved", |b| {
            b.iter_batched_ref(
                || input.clone(),
                |units| reaction::react_in_place(black_box(units)),
                BatchSize::LargeInput,
            )
        });
        group.bench_function("parallel_2_threads", |b| {
            b.iter_batched_ref(
                || input.clone(),
                |units| reaction::react_in_place_parallel(black_box(units), 2),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn whole_job(c: &mut Criterion) {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inputs/polymer-50k.txt"
    ))
    .expect("the shipped input is in inputs/");
    c.bench_function("whole_job/polymer-50k", |b| {
        b.iter_batched(
            || raw.clone(),
            |raw| {
                reaction::solve(black_box(raw))
                    .expect("valid input")
                    .minimum()
            },
            BatchSize::SmallInput,
        )
    });
}

fn sweep(c: &mut Criterion) {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/inputs/polymer-50k.txt"
    ))
    .expect("the shipped input is in inputs/");
    let mut polymer = polymer_fanout::polymer::Polymer::parse(raw).expect("valid input");
    polymer.react();
    c.bench_function("sweep/polymer-50k-reacted", |b| {
        b.iter(|| reaction::lengths_without_each(black_box(polymer.units())))
    });
}

criterion_group!(benches, whole_job, sweep, kernels);
criterion_main!(benches);
