//! The tour of ha-core (filled in below as the crate grows).
fn main() {}
