//! Label and field selectors as list and watch requests carry them
//! (`labelSelector=ng in (a,b),!legacy`, `fieldSelector=metadata.name=x`).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<LabelReq>);

static SET_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$").ok());
static KEY_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?)?$").ok());

fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn checked(s: &str, selector: &str) -> ApiResult<String> {
    let s = s.trim();
    if KEY_RE.as_ref().is_some_and(|r| r.is_match(s)) {
        Ok(s.to_string())
    } else {
        Err(ApiError::bad_request(format!(
            "unable to parse requirement: invalid label key or value {s:?} in selector {selector:?}"
        )))
    }
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter; `400` on syntax errors.
    pub fn parse(s: &str) -> ApiResult<Self> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            if let Some(c) = SET_RE.as_ref().and_then(|r| r.captures(&part)) {
                let key = checked(&c[1], s)?;
                let values = c[3]
                    .split(',')
                    .map(|v| checked(v, s))
                    .collect::<ApiResult<Vec<_>>>()?;
                reqs.push(if &c[2] == "in" {
                    LabelReq::In(key, values)
                } else {
                    LabelReq::NotIn(key, values)
                });
            } else if let Some(key) = part.strip_prefix('!') {
                reqs.push(LabelReq::NotExists(checked(key, s)?));
            } else if let Some((k, v)) = part.split_once("!=") {
                reqs.push(LabelReq::NotEquals(checked(k, s)?, checked(v, s)?));
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                reqs.push(LabelReq::Equals(checked(k, s)?, checked(v, s)?));
            } else {
                reqs.push(LabelReq::Exists(checked(&part, s)?));
            }
        }
        Ok(Self(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
            LabelReq::Equals(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEquals(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        })
    }
}

/// A parsed field selector: `path=value`, `path==value` or `path!=value` terms.
/// Any dotted path of the object is accepted (the apiserver limits them per type).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(Vec<String>, bool, String)>);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter; `400` on syntax errors.
    pub fn parse(s: &str) -> ApiResult<Self> {
        let mut terms = Vec::new();
        for part in split_top_level(s) {
            let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (p, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: {part:?}: expected an operator"
                )));
            };
            let path = path.trim().split('.').map(str::to_string).collect();
            terms.push((path, equal, value.trim().to_string()));
        }
        Ok(Self(terms))
    }

    /// Whether the object's fields satisfy every term (missing fields read as `""`).
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, equal, want)| {
            let found = path.iter().try_fold(object, |v, k| v.get(k));
            let have = match found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (have == *want) == *equal
        })
    }
}

/// Everything that decides whether an object is visible to a list or watch.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Restricts to one namespace when set.
    pub namespace: Option<String>,
    /// Label requirements.
    pub labels: LabelSelector,
    /// Field requirements.
    pub fields: FieldSelector,
}

impl Filter {
    /// Whether `object` passes the namespace, label and field selectors.
    pub fn matches(&self, object: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        ns_ok && self.labels.matches(object) && self.fields.matches(object)
    }
}
