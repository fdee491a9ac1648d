//! Safety.
