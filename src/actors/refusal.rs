//! The EC2 port's typed errors, classed for the rules in [`crate::plan`]: the one place
//! that reads an [`Ec2Error`]'s variant to say what it means to a slot or a teardown.

use crate::aws::{Ec2Error, Missing};
use crate::plan::refusal::{Refusal, Refused};

/// Classes `e`, keeping it beside its class.
pub fn classify(e: Ec2Error) -> Refusal<Ec2Error> {
    let class = match &e {
        Ec2Error::NotFound {
            what: Missing::Instance,
            ..
        } => Refused::InstanceGone,
        Ec2Error::NotFound { .. } => Refused::NotFound,
        Ec2Error::Conflict { .. } => Refused::Conflict,
        Ec2Error::DeviceIndexInUse { .. } => Refused::DeviceIndexInUse,
        Ec2Error::AttachmentLimitExceeded { .. } => Refused::AttachmentLimit,
        Ec2Error::IdempotentParameterMismatch { .. } => Refused::TokenReused,
        Ec2Error::Throttled { .. } => Refused::Throttled,
        Ec2Error::Withheld { .. } => Refused::Withheld,
        _ if e.is_retryable() => Refused::Transient,
        _ => Refused::Permanent,
    };
    Refusal::new(class, e)
}

/// A call's answer with its failure classed.
pub fn classified<T>(r: Result<T, Ec2Error>) -> Result<T, Refusal<Ec2Error>> {
    r.map_err(classify)
}
