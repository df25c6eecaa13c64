//! Compiles proto/daybook.proto for the `grpc` feature with protox (a pure
//! Rust protobuf compiler: no system protoc needed) and tonic-prost-build.
//! Without the feature there is nothing to do.

fn main() {
    println!("cargo:rerun-if-changed=proto/daybook.proto");
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "grpc")]
    if let Err(e) = grpc() {
        println!("cargo:warning=compiling proto/daybook.proto failed: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "grpc")]
fn grpc() -> Result<(), Box<dyn std::error::Error>> {
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true);
    compiler.open_file("daybook.proto")?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    // For server reflection.
    std::fs::write(
        out.join("daybook_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure().compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
