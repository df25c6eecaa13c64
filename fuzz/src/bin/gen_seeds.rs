//! Writes the starting corpus of every target into `<dir>/<target>/`
//! (default `fuzz/corpus`). Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --bin gen-seeds -- fuzz/corpus`.

use std::path::PathBuf;

use daybook_fuzz::harness::seeds;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let queries = include_str!("../../../docs/queries.md");
    let sets: [(&str, Vec<Vec<u8>>); 7] = [
        ("segment_bytes", seeds::segment_bytes()),
        ("segment_mutated", seeds::segment_mutated()),
        ("log_bytes", seeds::log_bytes()),
        ("json_event", seeds::json_event()),
        ("csv_event", seeds::csv_event()),
        ("query_doc", seeds::query_doc(queries)),
        ("ops_model", seeds::ops_model()),
    ];
    for (target, inputs) in sets {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:02}")), input)?;
        }
        println!("{target}: {} seeds", inputs.len());
    }
    Ok(())
}
