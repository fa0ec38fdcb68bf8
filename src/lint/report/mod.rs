//! Report formats. Filled in below.
