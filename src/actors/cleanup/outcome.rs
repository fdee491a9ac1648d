//! Why a cleanup did not delete its ENI, typed from the worker's step to the NodeENI that
//! asked (its Event and retry), with the stable label of `aws_multi_eni_cleanups_total`.

use std::time::Duration;

use thiserror::Error;

/// A cleanup that ended without deleting its ENI.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CleanupError {
    /// The ENI does not carry this cluster's ownership tags: never touched.
    #[error("the ENI does not carry this cluster's ownership tags; left alone")]
    NotOwned,
    /// EC2 kept failing for longer than the teardown allows.
    #[error("gave up after {after:?}: {last}")]
    GaveUp {
        /// How long it tried.
        after: Duration,
        /// The last error.
        last: String,
    },
    /// A failure retrying the same call will not fix.
    #[error("{0}")]
    Failed(String),
}

impl CleanupError {
    /// The `outcome` label of `aws_multi_eni_cleanups_total`.
    pub fn label(&self) -> &'static str {
        match self {
            CleanupError::NotOwned => "refused",
            CleanupError::GaveUp { .. } | CleanupError::Failed(_) => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_metric_outcomes() {
        for (e, label) in [
            (CleanupError::NotOwned, "refused"),
            (
                CleanupError::GaveUp {
                    after: Duration::from_secs(1),
                    last: "x".into(),
                },
                "failed",
            ),
            (CleanupError::Failed("x".into()), "failed"),
        ] {
            assert_eq!(e.label(), label);
            assert!(crate::telemetry::series::CLEANUP_OUTCOMES.contains(&e.label()));
        }
    }
}
