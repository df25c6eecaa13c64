//! Runs saved inputs through a target's check without libFuzzer, for
//! debugging a crash in a normal build:
//! `cargo run --release --manifest-path fuzz/Cargo.toml --bin replay -- <target> <file|dir>...`.
//!
//! `DAYBOOK_FUZZ_TRACE=1` prints what a check saw (the operation log of
//! `ops_model`, the expected outcome of `log_bytes`, phase times of the
//! segment targets); `DAYBOOK_FUZZ_DUMP=<file>` makes `segment_mutated`
//! write the damaged segment it built.

use std::path::Path;

use daybook_fuzz::harness;

fn run(target: &str, data: &[u8]) {
    match target {
        "segment_bytes" => harness::segment::segment_bytes(data),
        "segment_mutated" => harness::segment::segment_mutated(data),
        "log_bytes" => harness::log::log_bytes(data),
        "json_event" => harness::json::json_event(data),
        "csv_event" => harness::csv::csv_event(data),
        "query_doc" => harness::query::query_doc(data),
        "ops_model" => harness::ops::ops_model(data),
        other => panic!("unknown target {other}"),
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay <target> <file|dir>...");
    for arg in args {
        let p = Path::new(&arg);
        let files: Vec<_> = if p.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(p)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            v.sort();
            v
        } else {
            vec![p.to_path_buf()]
        };
        for f in files {
            let data = std::fs::read(&f)?;
            let t = std::time::Instant::now();
            run(&target, &data);
            println!(
                "{} ok ({} bytes, {:?})",
                f.display(),
                data.len(),
                t.elapsed()
            );
        }
    }
    Ok(())
}
