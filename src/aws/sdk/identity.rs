//! Where the client talks to and as whom: the Region and where it came from (none is
//! guessed), and the caller identity said at start.

use aws_config::Region;
use aws_config::meta::region::RegionProviderChain;

/// Where the Region came from (said in the start log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionSource {
    /// `--aws-region` / `AWS_REGION` (the chart's `awsRegion`).
    Configured,
    /// The SDK's chain: `AWS_DEFAULT_REGION`, the profile, or instance metadata.
    SdkChain,
}

impl RegionSource {
    /// A stable label for logs.
    pub fn label(self) -> &'static str {
        match self {
            RegionSource::Configured => "AWS_REGION",
            RegionSource::SdkChain => "profile or instance metadata",
        }
    }
}

/// The client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing says which Region to talk to; guessing one makes every subnet "not found".
    #[error(
        "no AWS Region: set AWS_REGION (the chart's `awsRegion` value), or let the pod reach instance metadata (IMDSv2 with a hop limit of at least 2)"
    )]
    NoRegion,
}

impl ConnectError {
    /// A stable label.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectError::NoRegion => "no_region",
        }
    }
}

/// Who the credentials are, as STS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The AWS account ID.
    pub account: String,
    /// The ARN of the principal (an assumed role's session for IRSA or Pod Identity).
    pub arn: String,
}

/// The Region `configured` (`--aws-region` / `AWS_REGION`), else the SDK's chain, else
/// [`ConnectError::NoRegion`].
pub(super) async fn resolve_region(
    configured: Option<String>,
) -> Result<(Region, RegionSource), ConnectError> {
    match configured {
        Some(r) => Ok((Region::new(r), RegionSource::Configured)),
        None => RegionProviderChain::default_provider()
            .region()
            .await
            .map(|r| (r, RegionSource::SdkChain))
            .ok_or(ConnectError::NoRegion),
    }
}
