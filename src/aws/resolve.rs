//! Name resolution with a per-entry TTL cache: subnets by ID or `Name` tag, security
//! groups by ID or name, and ENI limits per instance type.
//!
//! Every entry expires on its own clock (the Go controller refreshed all entries
//! together from one shared timestamp). Lookups that found nothing are cached briefly,
//! so a NodeENI naming a subnet that does not exist costs one call per `negative_ttl`,
//! not one per reconcile. Instance type limits never change and are kept for the life
//! of the process. The cache uses tokio's clock so simulations under a paused clock
//! expire entries deterministically.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use thiserror::Error;
use tokio::time::Instant;

use super::{Ec2, Ec2Error, EniLimits, SecurityGroup, SecurityGroupLookup, Subnet, SubnetLookup};

/// A subnet reference from a NodeENI spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubnetRef {
    /// `subnet-…`.
    Id(String),
    /// Value of the `Name` tag; may match one subnet per Availability Zone.
    Name(String),
}

/// A security group reference from a NodeENI spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecurityGroupRef {
    /// `sg-…`.
    Id(String),
    /// Group name (or `Name` tag).
    Name(String),
}

/// Why a reference could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// No subnet has that ID or `Name` tag.
    #[error("subnet {0:?} not found")]
    SubnetNotFound(String),
    /// No security group has that ID or name (in the subnet's VPC).
    #[error("security group {0:?} not found")]
    SecurityGroupNotFound(String),
    /// EC2 failed.
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
}

impl ResolveError {
    /// A stable label for metrics and events.
    pub fn label(&self) -> &'static str {
        match self {
            ResolveError::SubnetNotFound(_) => "subnet_not_found",
            ResolveError::SecurityGroupNotFound(_) => "security_group_not_found",
            ResolveError::Ec2(e) => e.label(),
        }
    }
}

struct Entry<T> {
    value: Option<T>,
    expires: Instant,
}

/// Caching resolver in front of an [`Ec2`] implementation.
pub struct Resolver {
    ec2: Arc<dyn Ec2>,
    ttl: Duration,
    negative_ttl: Duration,
    subnets: DashMap<SubnetRef, Entry<Vec<Subnet>>>,
    groups: DashMap<(SecurityGroupRef, Option<String>), Entry<SecurityGroup>>,
    limits: DashMap<String, Arc<tokio::sync::OnceCell<EniLimits>>>,
}

impl Resolver {
    /// A resolver keeping found entries for `ttl` and misses for `negative_ttl`.
    pub fn new(ec2: Arc<dyn Ec2>, ttl: Duration, negative_ttl: Duration) -> Self {
        Resolver {
            ec2,
            ttl,
            negative_ttl,
            subnets: DashMap::new(),
            groups: DashMap::new(),
            limits: DashMap::new(),
        }
    }

    fn fresh<K, T>(map: &DashMap<K, Entry<T>>, key: &K) -> Option<Option<T>>
    where
        K: std::hash::Hash + Eq,
        T: Clone,
    {
        map.get(key)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.value.clone())
    }

    fn store<K: std::hash::Hash + Eq, T>(
        &self,
        map: &DashMap<K, Entry<T>>,
        key: K,
        value: Option<T>,
    ) {
        let ttl = if value.is_some() {
            self.ttl
        } else {
            self.negative_ttl
        };
        map.insert(
            key,
            Entry {
                value,
                expires: Instant::now() + ttl,
            },
        );
    }

    /// Resolves subnet references in order, de-duplicated by ID. A name matching several
    /// subnets (one per AZ, typically) yields all of them, sorted by AZ; with `vpc`, a
    /// name matches only subnets of that VPC (an account holds other clusters' VPCs, and
    /// their subnets may carry the same names).
    pub async fn subnets(
        &self,
        refs: &[SubnetRef],
        vpc: Option<&str>,
    ) -> Result<Vec<Subnet>, ResolveError> {
        let mut out: Vec<Subnet> = Vec::new();
        for r in refs {
            let found = match Self::fresh(&self.subnets, r) {
                Some(v) => v,
                None => {
                    let lookup = match r {
                        SubnetRef::Id(id) => SubnetLookup::Ids(vec![id.clone()]),
                        SubnetRef::Name(n) => SubnetLookup::Names(vec![n.clone()]),
                    };
                    let mut subnets = match self.ec2.describe_subnets(&lookup).await {
                        Ok(s) => s,
                        Err(e) if e.is_not_found() => Vec::new(),
                        Err(e) => return Err(e.into()),
                    };
                    subnets.sort_by(|a, b| {
                        (&a.availability_zone, &a.id).cmp(&(&b.availability_zone, &b.id))
                    });
                    let value = (!subnets.is_empty()).then_some(subnets);
                    self.store(&self.subnets, r.clone(), value.clone());
                    value
                }
            };
            let found = match (r, vpc) {
                (SubnetRef::Name(_), Some(vpc)) => found
                    .map(|v| {
                        v.into_iter()
                            .filter(|s| s.vpc_id == vpc)
                            .collect::<Vec<_>>()
                    })
                    .filter(|v| !v.is_empty()),
                _ => found,
            };
            let Some(subnets) = found else {
                let (SubnetRef::Id(s) | SubnetRef::Name(s)) = r;
                return Err(ResolveError::SubnetNotFound(s.clone()));
            };
            for s in subnets {
                if !out.iter().any(|o| o.id == s.id) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    /// Resolves security group references to IDs, in order, de-duplicated. Names are
    /// looked up within `vpc_id` when given (group names are unique only per VPC).
    pub async fn security_groups(
        &self,
        refs: &[SecurityGroupRef],
        vpc_id: Option<&str>,
    ) -> Result<Vec<String>, ResolveError> {
        let mut out: Vec<String> = Vec::new();
        for r in refs {
            let key = (r.clone(), vpc_id.map(str::to_string));
            let found = match Self::fresh(&self.groups, &key) {
                Some(v) => v,
                None => {
                    let lookup = match r {
                        SecurityGroupRef::Id(id) => SecurityGroupLookup::Ids(vec![id.clone()]),
                        SecurityGroupRef::Name(n) => SecurityGroupLookup::Names {
                            names: vec![n.clone()],
                            vpc_id: vpc_id.map(str::to_string),
                        },
                    };
                    let groups = match self.ec2.describe_security_groups(&lookup).await {
                        Ok(g) => g,
                        Err(e) if e.is_not_found() => Vec::new(),
                        Err(e) => return Err(e.into()),
                    };
                    let value = groups.into_iter().min_by(|a, b| a.id.cmp(&b.id));
                    self.store(&self.groups, key, value.clone());
                    value
                }
            };
            let Some(group) = found else {
                let (SecurityGroupRef::Id(s) | SecurityGroupRef::Name(s)) = r;
                return Err(ResolveError::SecurityGroupNotFound(s.clone()));
            };
            if !out.contains(&group.id) {
                out.push(group.id);
            }
        }
        Ok(out)
    }

    /// ENI limits of `instance_type`, fetched once per process; concurrent callers for
    /// the same type share one call.
    pub async fn limits(&self, instance_type: &str) -> Result<EniLimits, Ec2Error> {
        let cell = self
            .limits
            .entry(instance_type.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.ec2.describe_instance_type_limits(instance_type))
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests;
