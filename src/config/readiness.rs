//! `--startup-taint`, `--node-condition`, `--readiness-quiet`: how the controller tells
//! that a node's ENIs are ready for its pods.

use std::time::Duration;

use clap::Args;

use crate::k8s::node::TaintKey;

/// Node readiness options.
#[derive(Debug, Clone, Args)]
pub struct ReadinessArgs {
    /// The startup taint (`key:Effect`) removed from a node once all its ENIs are
    /// attached and configured; never added back. Empty: taints are never touched.
    #[arg(
        long,
        env = "STARTUP_TAINT",
        default_value = "networking.k8s.aws/enis-not-ready:NoSchedule",
        value_parser = startup_taint
    )]
    pub startup_taint: StartupTaint,
    /// Write the `networking.k8s.aws/ENIsReady` condition on the nodes NodeENIs select.
    #[arg(long, env = "NODE_CONDITION", default_value_t = true, action = clap::ArgAction::Set)]
    pub node_condition: bool,
    /// How long a new node may wait for its ENIs before a `False` condition and a
    /// Warning Event say why (a blocked node is shown at once).
    #[arg(long, env = "READINESS_QUIET", default_value = "2m", value_parser = humantime::parse_duration)]
    pub readiness_quiet: Duration,
}

/// The startup taint, or none (taints untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupTaint(pub Option<TaintKey>);

const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Parses `key:Effect` (empty: none).
pub fn startup_taint(text: &str) -> Result<StartupTaint, String> {
    parse(text).map(StartupTaint)
}

fn parse(text: &str) -> Result<Option<TaintKey>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (key, effect) = text.rsplit_once(':').ok_or_else(|| {
        format!("must be key:Effect, such as networking.k8s.aws/enis-not-ready:NoSchedule (got {text:?})")
    })?;
    if !EFFECTS.contains(&effect) {
        return Err(format!(
            "the effect must be one of {} (got {effect:?})",
            EFFECTS.join(", ")
        ));
    }
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.len() <= 253
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
    if !name_ok || !prefix_ok || (key.contains('/') && prefix.is_empty()) {
        return Err(format!(
            "{key:?} is not a valid taint key (a qualified name)"
        ));
    }
    Ok(Some(TaintKey {
        key: key.into(),
        effect: effect.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taint_is_key_and_effect() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(
            parse("networking.k8s.aws/enis-not-ready:NoSchedule"),
            Ok(Some(TaintKey {
                key: "networking.k8s.aws/enis-not-ready".into(),
                effect: "NoSchedule".into()
            }))
        );
        assert_eq!(
            parse("enis:NoExecute").map(|t| t.map(|t| t.key)),
            Ok(Some("enis".into()))
        );
        for (bad, says) in [
            ("networking.k8s.aws/enis-not-ready", "key:Effect"),
            ("enis:NoSched", "effect must be"),
            ("Bad Key:NoSchedule", "not a valid taint key"),
            ("/enis:NoSchedule", "not a valid taint key"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
