//! Streaming statistics with bounded memory, fed one sample at a time.
//!
//! | type | answers | memory |
//! |---|---|---|
//! | [`Ewma`] | a recent average, decaying with elapsed time | 40 bytes |
//! | [`SlidingWindow`] | a count or rate over the last window (e.g. 60 s) | 8 bytes a bucket |
//! | [`QuantileSketch`] | p50 / p95 / p99 / max within a relative error | 8 bytes a bucket, bounded |

mod ewma;
mod quantile;
mod sliding_window;

pub use ewma::Ewma;
pub use quantile::{QuantileSketch, QuantileSketchConfig, Quantiles};
pub use sliding_window::{SlidingWindow, SlidingWindowConfig};
