//! The `hotline.v1` API, generated from `proto/hotline/v1/hotline.proto`.

#![allow(clippy::all, clippy::pedantic)]

pub mod codec;

pub mod v1 {
    tonic::include_proto!("hotline.v1");

    /// The encoded descriptor set, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("hotline_descriptor");
}
