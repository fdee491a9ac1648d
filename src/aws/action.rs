//! EC2 API actions and the token buckets EC2 throttles them with.
//!
//! EC2 throttles per account, per Region and per API action: every action has its own
//! token bucket with a capacity (the burst) and a refill rate. The controller's rate
//! limiter and the EC2 simulator both start from the defaults AWS publishes, so that the
//! same numbers drive production pacing and simulated throttling.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// One EC2 API action that this project calls; the unit EC2 throttles by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ec2Action {
    /// `CreateNetworkInterface` (uncategorised bucket: 100, 5/s).
    CreateNetworkInterface,
    /// `AttachNetworkInterface` (mutating bucket: 50, 5/s).
    AttachNetworkInterface,
    /// `DetachNetworkInterface` (mutating bucket: 50, 5/s).
    DetachNetworkInterface,
    /// `DeleteNetworkInterface` (uncategorised bucket: 100, 5/s).
    DeleteNetworkInterface,
    /// `ModifyNetworkInterfaceAttribute` (uncategorised bucket: 100, 5/s).
    ModifyNetworkInterfaceAttribute,
    /// `DescribeNetworkInterfaces`, always filtered or by ID (100, 20/s).
    DescribeNetworkInterfaces,
    /// `DescribeInstances`, always by ID (100, 20/s).
    DescribeInstances,
    /// `DescribeInstanceTypes` (100, 20/s).
    DescribeInstanceTypes,
    /// `DescribeSubnets` (100, 20/s).
    DescribeSubnets,
    /// `DescribeSecurityGroups` (100, 20/s).
    DescribeSecurityGroups,
    /// `CreateTags` (100, 10/s).
    CreateTags,
    /// `AssignPrivateIpAddresses` (uncategorised bucket: 100, 5/s).
    AssignPrivateIpAddresses,
    /// `UnassignPrivateIpAddresses` (mutating bucket: 50, 5/s).
    UnassignPrivateIpAddresses,
    /// `AssignIpv6Addresses` (uncategorised bucket: 100, 5/s).
    AssignIpv6Addresses,
    /// `UnassignIpv6Addresses` (mutating bucket: 50, 5/s).
    UnassignIpv6Addresses,
}

impl Ec2Action {
    /// Every action, in a stable order (for metrics and reports).
    pub const ALL: [Ec2Action; 15] = [
        Ec2Action::CreateNetworkInterface,
        Ec2Action::AttachNetworkInterface,
        Ec2Action::DetachNetworkInterface,
        Ec2Action::DeleteNetworkInterface,
        Ec2Action::ModifyNetworkInterfaceAttribute,
        Ec2Action::DescribeNetworkInterfaces,
        Ec2Action::DescribeInstances,
        Ec2Action::DescribeInstanceTypes,
        Ec2Action::DescribeSubnets,
        Ec2Action::DescribeSecurityGroups,
        Ec2Action::CreateTags,
        Ec2Action::AssignPrivateIpAddresses,
        Ec2Action::UnassignPrivateIpAddresses,
        Ec2Action::AssignIpv6Addresses,
        Ec2Action::UnassignIpv6Addresses,
    ];

    /// The action's name as EC2 spells it (also the `action` metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Ec2Action::CreateNetworkInterface => "CreateNetworkInterface",
            Ec2Action::AttachNetworkInterface => "AttachNetworkInterface",
            Ec2Action::DetachNetworkInterface => "DetachNetworkInterface",
            Ec2Action::DeleteNetworkInterface => "DeleteNetworkInterface",
            Ec2Action::ModifyNetworkInterfaceAttribute => "ModifyNetworkInterfaceAttribute",
            Ec2Action::DescribeNetworkInterfaces => "DescribeNetworkInterfaces",
            Ec2Action::DescribeInstances => "DescribeInstances",
            Ec2Action::DescribeInstanceTypes => "DescribeInstanceTypes",
            Ec2Action::DescribeSubnets => "DescribeSubnets",
            Ec2Action::DescribeSecurityGroups => "DescribeSecurityGroups",
            Ec2Action::CreateTags => "CreateTags",
            Ec2Action::AssignPrivateIpAddresses => "AssignPrivateIpAddresses",
            Ec2Action::UnassignPrivateIpAddresses => "UnassignPrivateIpAddresses",
            Ec2Action::AssignIpv6Addresses => "AssignIpv6Addresses",
            Ec2Action::UnassignIpv6Addresses => "UnassignIpv6Addresses",
        }
    }

    /// Whether the action changes EC2 state (crash tests count these calls).
    pub fn is_mutating(self) -> bool {
        !matches!(
            self,
            Ec2Action::DescribeNetworkInterfaces
                | Ec2Action::DescribeInstances
                | Ec2Action::DescribeInstanceTypes
                | Ec2Action::DescribeSubnets
                | Ec2Action::DescribeSecurityGroups
        )
    }

    /// The bucket AWS publishes for this action (EC2 developer guide, "Request throttling").
    pub fn default_bucket(self) -> BucketSpec {
        match self {
            Ec2Action::AttachNetworkInterface
            | Ec2Action::DetachNetworkInterface
            | Ec2Action::UnassignPrivateIpAddresses
            | Ec2Action::UnassignIpv6Addresses => BucketSpec::new(50, 5.0),
            Ec2Action::CreateNetworkInterface
            | Ec2Action::DeleteNetworkInterface
            | Ec2Action::ModifyNetworkInterfaceAttribute
            | Ec2Action::AssignPrivateIpAddresses
            | Ec2Action::AssignIpv6Addresses => BucketSpec::new(100, 5.0),
            Ec2Action::CreateTags => BucketSpec::new(100, 10.0),
            Ec2Action::DescribeNetworkInterfaces
            | Ec2Action::DescribeInstances
            | Ec2Action::DescribeInstanceTypes
            | Ec2Action::DescribeSubnets
            | Ec2Action::DescribeSecurityGroups => BucketSpec::new(100, 20.0),
        }
    }
}

impl fmt::Display for Ec2Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action name that is not one this project calls.
#[derive(Debug, Clone, Error)]
#[error("unknown EC2 action {0:?}")]
pub struct UnknownAction(pub String);

impl FromStr for Ec2Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ec2Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAction(s.to_string()))
    }
}

/// A token bucket: `capacity` requests may burst, then `refill_per_second` more each second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSpec {
    /// Maximum number of tokens (the burst size); the bucket starts full.
    pub capacity: u32,
    /// Tokens added per second.
    pub refill_per_second: f64,
}

impl BucketSpec {
    /// A bucket of `capacity` tokens refilled at `refill_per_second`.
    pub const fn new(capacity: u32, refill_per_second: f64) -> Self {
        BucketSpec {
            capacity,
            refill_per_second,
        }
    }

    /// Seconds a bucket that starts full needs to grant `calls` requests: the lower bound
    /// on how fast any client can make those calls without being throttled.
    pub fn floor_seconds(&self, calls: u64) -> f64 {
        let beyond_burst = calls.saturating_sub(u64::from(self.capacity));
        beyond_burst as f64 / self.refill_per_second
    }
}

/// A rejected bucket override such as `CreateNetworkInterface=100/5`.
#[derive(Debug, Clone, Error)]
pub enum BucketOverrideError {
    /// The text is not `Action=capacity/rate`.
    #[error("bucket override {0:?} is not of the form Action=capacity/rate")]
    Syntax(String),
    /// The action is not one this project calls.
    #[error(transparent)]
    Action(#[from] UnknownAction),
    /// Capacity or rate is zero, negative or not a number.
    #[error("bucket override {0:?} needs a capacity of at least 1 and a positive rate")]
    Value(String),
}

/// Per-action buckets: AWS's defaults, optionally overridden (accounts can have raised
/// or lowered limits). Remembers which actions were set explicitly ("told").
#[derive(Debug, Clone, PartialEq)]
pub struct BucketTable {
    specs: BTreeMap<Ec2Action, BucketSpec>,
    told: std::collections::BTreeSet<Ec2Action>,
}

impl Default for BucketTable {
    fn default() -> Self {
        BucketTable {
            specs: Ec2Action::ALL
                .into_iter()
                .map(|a| (a, a.default_bucket()))
                .collect(),
            told: Default::default(),
        }
    }
}

impl BucketTable {
    /// The bucket for `action`.
    pub fn get(&self, action: Ec2Action) -> BucketSpec {
        self.specs
            .get(&action)
            .copied()
            .unwrap_or_else(|| action.default_bucket())
    }

    /// Replaces the bucket for `action` (and marks it told).
    pub fn set(&mut self, action: Ec2Action, spec: BucketSpec) {
        self.specs.insert(action, spec);
        self.told.insert(action);
    }

    /// Whether `action`'s bucket was set explicitly rather than assumed from AWS's
    /// defaults.
    pub fn told(&self, action: Ec2Action) -> bool {
        self.told.contains(&action)
    }

    /// Every action's bucket scaled: capacity by `capacity` (at least 1), refill by
    /// `refill`; nothing is marked told.
    pub fn scaled(&self, capacity: f64, refill: f64) -> Self {
        BucketTable {
            specs: self
                .specs
                .iter()
                .map(|(a, b)| {
                    let c = (f64::from(b.capacity) * capacity).round().max(1.0) as u32;
                    (*a, BucketSpec::new(c, b.refill_per_second * refill))
                })
                .collect(),
            told: Default::default(),
        }
    }

    /// The same buckets, every one marked told.
    pub fn all_told(mut self) -> Self {
        self.told = self.specs.keys().copied().collect();
        self
    }

    /// Applies overrides written as `Action=capacity/rate`, comma separated
    /// (for example `CreateNetworkInterface=200/10,AttachNetworkInterface=100/10`).
    pub fn with_overrides(mut self, text: &str) -> Result<Self, BucketOverrideError> {
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| BucketOverrideError::Syntax(item.to_string()))?;
            let (capacity, rate) = value
                .split_once('/')
                .ok_or_else(|| BucketOverrideError::Syntax(item.to_string()))?;
            let action: Ec2Action = name.trim().parse()?;
            let capacity: u32 = capacity
                .trim()
                .parse()
                .map_err(|_| BucketOverrideError::Value(item.to_string()))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .map_err(|_| BucketOverrideError::Value(item.to_string()))?;
            if capacity == 0 || !(rate.is_finite() && rate > 0.0) {
                return Err(BucketOverrideError::Value(item.to_string()));
            }
            self.set(action, BucketSpec::new(capacity, rate));
        }
        Ok(self)
    }

    /// Iterates over every action's bucket.
    pub fn iter(&self) -> impl Iterator<Item = (Ec2Action, BucketSpec)> + '_ {
        self.specs.iter().map(|(a, b)| (*a, *b))
    }
}

#[cfg(test)]
mod tests;
