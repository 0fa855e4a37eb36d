//! Generates the gRPC code from `proto/`. protoc comes from the `protoc-bin-vendored` crate so a
//! bare machine builds without a system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let proto = proto_root.join("hotline/v1/hotline.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY-free: build scripts are single-threaded; prost-build reads PROTOC from the env.
    std::env::set_var("PROTOC", protoc);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // Requests that do not decode are INVALID_ARGUMENT (crates/proto/src/codec.rs).
        .codec_path("crate::codec::HotlineCodec")
        .file_descriptor_set_path(out_dir.join("hotline_descriptor.bin"))
        .compile_protos(&[&proto], &[&proto_root])?;
    println!("cargo:rerun-if-changed={}", proto.display());
    Ok(())
}
