//! `sqlx::migrate!` embeds the migrations when this crate compiles, but cargo only knows to
//! compile it again when its own sources change: without this, a warm build after a migration
//! is added keeps the old list here while another crate's has the new one, and the binary
//! refuses its own schema ("migration N was previously applied but is missing").
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
