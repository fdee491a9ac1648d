//! The one error type of the EC2 port, with a stable label per kind.
//!
//! Every adapter (the AWS SDK, the simulator) turns its failures into [`Ec2Error`], so
//! the lifecycle code decides what to do from the kind alone: retry a throttle or a
//! transient failure, move on after "not found", pick another device index, and so on.

use thiserror::Error;

/// The kind of resource a `NotFound` answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// An instance (`InvalidInstanceID.NotFound`): terminated, or not yet visible.
    Instance,
    /// An ENI (`InvalidNetworkInterfaceID.NotFound`).
    NetworkInterface,
    /// An attachment (`InvalidAttachmentID.NotFound`).
    Attachment,
    /// A subnet (`InvalidSubnetID.NotFound`).
    Subnet,
    /// A security group (`InvalidGroup.NotFound`, `InvalidGroupId.NotFound`).
    SecurityGroup,
    /// An instance type without network information.
    InstanceType,
    /// Any other code ending in `.NotFound`.
    Other,
}

impl Missing {
    /// What EC2's `code` is about.
    pub fn of_code(code: &str) -> Missing {
        let prefix = code.split('.').next().unwrap_or_default();
        match prefix {
            "InvalidInstanceID" => Missing::Instance,
            "InvalidNetworkInterfaceID" => Missing::NetworkInterface,
            "InvalidAttachmentID" => Missing::Attachment,
            "InvalidSubnetID" => Missing::Subnet,
            "InvalidGroup" | "InvalidGroupId" => Missing::SecurityGroup,
            "InvalidInstanceType" => Missing::InstanceType,
            _ => Missing::Other,
        }
    }
}

/// A failed EC2 call, classified by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Ec2Error {
    /// EC2 refused the call because the action's token bucket is empty.
    #[error("throttled by EC2 ({code}): {message}")]
    Throttled {
        /// EC2's error code (`RequestLimitExceeded`, ...).
        code: String,
        /// EC2's message.
        message: String,
    },
    /// The ENI, attachment, instance, subnet or group does not exist (or not yet: EC2 is
    /// eventually consistent, so a fresh resource may briefly be "not found").
    #[error("not found ({code}): {message}")]
    NotFound {
        /// What is missing, read from the code.
        what: Missing,
        /// EC2's error code, e.g. `InvalidNetworkInterfaceID.NotFound`.
        code: String,
        /// EC2's message.
        message: String,
    },
    /// The instance already has an interface at the requested device index.
    #[error("device index in use: {message}")]
    DeviceIndexInUse {
        /// EC2's message.
        message: String,
    },
    /// The instance type cannot take another interface on that network card.
    #[error("attachment limit exceeded: {message}")]
    AttachmentLimitExceeded {
        /// EC2's message.
        message: String,
    },
    /// A ClientToken was reused with different parameters.
    #[error("idempotent parameter mismatch: {message}")]
    IdempotentParameterMismatch {
        /// EC2's message.
        message: String,
    },
    /// The request itself is wrong (bad ID, AZ mismatch, out-of-range value...).
    #[error("invalid parameter ({code}): {message}")]
    InvalidParameter {
        /// EC2's error code.
        code: String,
        /// EC2's message.
        message: String,
    },
    /// The resource is in a state that forbids the call now (an ENI still attached,
    /// an attachment still attaching); retrying later can succeed.
    #[error("resource busy ({code}): {message}")]
    Conflict {
        /// EC2's error code.
        code: String,
        /// EC2's message.
        message: String,
    },
    /// The credentials lack permission, or are invalid.
    #[error("unauthorized ({code}): {message}")]
    Unauthorized {
        /// EC2's error code.
        code: String,
        /// EC2's message.
        message: String,
    },
    /// Not sent: this replica can no longer be sure it leads (its last renewal of the
    /// leader Lease is older than the renew deadline). Nothing happened in EC2.
    #[error("not sent: no leader Lease renewal within the renew deadline")]
    Fenced,
    /// Not sent: the caller's own rule held it back once its token was granted (a
    /// breaker holding calls that a refusal will meet again). Nothing happened in EC2.
    #[error("not sent: held back while {cause}")]
    Withheld {
        /// What holds it back.
        cause: String,
    },
    /// A 5xx answer, a timeout or a connection failure: the call may or may not have
    /// taken effect, and may be retried.
    #[error("transient failure: {message}")]
    Transient {
        /// What went wrong.
        message: String,
    },
    /// Anything else.
    #[error("EC2 error ({code}): {message}")]
    Other {
        /// EC2's error code, if any.
        code: String,
        /// EC2's message.
        message: String,
    },
}

/// Codes that EC2 and the AWS SDKs treat as throttling.
const THROTTLING_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "EC2ThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "SlowDown",
    "BandwidthLimitExceeded",
    "TransactionInProgressException",
    "PriorRequestNotComplete",
];

const UNAUTHORIZED_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "AuthFailure",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "OptInRequired",
    "Blocked",
    "ExpiredToken",
    "RequestExpired",
];

const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

const CONFLICT_CODES: &[&str] = &[
    "InvalidNetworkInterface.InUse",
    "IncorrectState",
    "IncorrectInstanceState",
    "InvalidAttachment.InUse",
    "ResourceInUse",
];

impl Ec2Error {
    /// A stable, lower-case label for metrics, events and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Ec2Error::Throttled { .. } => "throttled",
            Ec2Error::NotFound { .. } => "not_found",
            Ec2Error::DeviceIndexInUse { .. } => "device_index_in_use",
            Ec2Error::AttachmentLimitExceeded { .. } => "attachment_limit_exceeded",
            Ec2Error::IdempotentParameterMismatch { .. } => "idempotent_parameter_mismatch",
            Ec2Error::InvalidParameter { .. } => "invalid_parameter",
            Ec2Error::Conflict { .. } => "conflict",
            Ec2Error::Unauthorized { .. } => "unauthorized",
            Ec2Error::Fenced => "fenced",
            Ec2Error::Withheld { .. } => "withheld",
            Ec2Error::Transient { .. } => "transient",
            Ec2Error::Other { .. } => "other",
        }
    }

    /// Whether repeating the same call later can succeed without anything else changing.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Ec2Error::Throttled { .. }
                | Ec2Error::Transient { .. }
                | Ec2Error::Conflict { .. }
                | Ec2Error::Fenced
        )
    }

    /// Whether this is a throttle (the rate limiter slows down on these).
    pub fn is_throttle(&self) -> bool {
        matches!(self, Ec2Error::Throttled { .. })
    }

    /// Whether this is "not found".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Ec2Error::NotFound { .. })
    }

    /// A transient failure with `message`.
    pub fn transient(message: impl Into<String>) -> Self {
        Ec2Error::Transient {
            message: message.into(),
        }
    }

    /// Classifies an EC2 error answer from its code, message and HTTP status.
    ///
    /// Pure, so the SDK adapter and the simulator agree, and table-tested.
    pub fn classify(code: &str, message: &str, http_status: Option<u16>) -> Ec2Error {
        let code_s = code.to_string();
        let message_s = message.to_string();
        if THROTTLING_CODES.contains(&code) || http_status == Some(429) {
            return Ec2Error::Throttled {
                code: code_s,
                message: message_s,
            };
        }
        if code == "IdempotentParameterMismatch" {
            return Ec2Error::IdempotentParameterMismatch { message: message_s };
        }
        if code == "AttachmentLimitExceeded" {
            return Ec2Error::AttachmentLimitExceeded { message: message_s };
        }
        if message
            .to_ascii_lowercase()
            .contains("already has an interface attached at device index")
        {
            return Ec2Error::DeviceIndexInUse { message: message_s };
        }
        if code.ends_with(".NotFound") || code == "NotFound" {
            return Ec2Error::NotFound {
                what: Missing::of_code(code),
                code: code_s,
                message: message_s,
            };
        }
        if UNAUTHORIZED_CODES.contains(&code) || matches!(http_status, Some(401 | 403)) {
            return Ec2Error::Unauthorized {
                code: code_s,
                message: message_s,
            };
        }
        if CONFLICT_CODES.contains(&code) {
            return Ec2Error::Conflict {
                code: code_s,
                message: message_s,
            };
        }
        if TRANSIENT_CODES.contains(&code) || http_status.is_some_and(|s| s >= 500) {
            return Ec2Error::Transient {
                message: if code.is_empty() {
                    message_s
                } else {
                    format!("{code}: {message}")
                },
            };
        }
        if code.starts_with("Invalid")
            || code.starts_with("Missing")
            || code.ends_with(".Malformed")
            || code == "OperationNotPermitted"
            || code == "UnsupportedOperation"
        {
            return Ec2Error::InvalidParameter {
                code: code_s,
                message: message_s,
            };
        }
        Ec2Error::Other {
            code: code_s,
            message: message_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let cases: &[(&str, &str, Option<u16>, &str)] = &[
            (
                "RequestLimitExceeded",
                "Request limit exceeded.",
                Some(503),
                "throttled",
            ),
            ("", "", Some(429), "throttled"),
            (
                "InvalidNetworkInterfaceID.NotFound",
                "x",
                Some(400),
                "not_found",
            ),
            ("InvalidAttachmentID.NotFound", "x", Some(400), "not_found"),
            ("InvalidInstanceID.NotFound", "x", Some(400), "not_found"),
            (
                "InvalidParameterValue",
                "Instance 'i-1' already has an interface attached at device index '1'.",
                Some(400),
                "device_index_in_use",
            ),
            (
                "AttachmentLimitExceeded",
                "x",
                Some(400),
                "attachment_limit_exceeded",
            ),
            (
                "IdempotentParameterMismatch",
                "x",
                Some(400),
                "idempotent_parameter_mismatch",
            ),
            ("InvalidParameterValue", "x", Some(400), "invalid_parameter"),
            (
                "InvalidNetworkInterfaceID.Malformed",
                "x",
                Some(400),
                "invalid_parameter",
            ),
            ("InvalidNetworkInterface.InUse", "x", Some(400), "conflict"),
            ("IncorrectState", "x", Some(400), "conflict"),
            ("UnauthorizedOperation", "x", Some(403), "unauthorized"),
            ("AuthFailure", "x", Some(401), "unauthorized"),
            ("InternalError", "x", Some(500), "transient"),
            ("", "", Some(502), "transient"),
            ("InsufficientFreeAddressesInSubnet", "x", Some(400), "other"),
        ];
        for (code, message, status, label) in cases {
            let e = Ec2Error::classify(code, message, *status);
            assert_eq!(e.label(), *label, "{code} {message} {status:?}");
        }
    }

    #[test]
    fn retryability_follows_kind() {
        assert!(Ec2Error::classify("RequestLimitExceeded", "", None).is_retryable());
        assert!(Ec2Error::transient("timeout").is_retryable());
        assert!(!Ec2Error::classify("InvalidParameterValue", "", None).is_retryable());
        assert!(!Ec2Error::classify("InvalidSubnetID.NotFound", "", None).is_retryable());
    }

    #[test]
    fn not_found_says_what_is_missing() {
        for (code, what) in [
            ("InvalidInstanceID.NotFound", Missing::Instance),
            (
                "InvalidNetworkInterfaceID.NotFound",
                Missing::NetworkInterface,
            ),
            ("InvalidAttachmentID.NotFound", Missing::Attachment),
            ("InvalidSubnetID.NotFound", Missing::Subnet),
            ("InvalidGroup.NotFound", Missing::SecurityGroup),
            ("InvalidGroupId.NotFound", Missing::SecurityGroup),
            ("InvalidVpcID.NotFound", Missing::Other),
        ] {
            match Ec2Error::classify(code, "", Some(400)) {
                Ec2Error::NotFound { what: got, .. } => assert_eq!(got, what, "{code}"),
                other => panic!("{code}: {other:?}"),
            }
        }
    }
}
