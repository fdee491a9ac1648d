//! DELETE: preconditions, finalizers (a `deletionTimestamp` instead of removal) and the
//! cascades of CRDs (their resource and objects go) and namespaces (their objects go).

use std::sync::Arc;

use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::meta::{finalizers, meta, meta_str, now_rfc3339};
use super::ops::{is_crd, resolve_namespace};
use super::resources::ResourceType;
use super::store::{Change, ChangeKind, ObjKey, State, Stored, key};

/// Preconditions of a DELETE (`DeleteOptions.preconditions`).
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// Only delete if the object still has this uid.
    pub uid: Option<String>,
    /// Only delete if the object is still at this resourceVersion.
    pub resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// Deletes an object: with finalizers it only gets a `deletionTimestamp` (and goes
/// when an update removes the last finalizer); without, it is removed at once.
pub fn delete(
    state: &mut State,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    opts: &DeleteOpts,
) -> ApiResult<Value> {
    let namespace = resolve_namespace(rt, ns)?;
    let k = key(rt, &namespace, name);
    let Some(current) = state.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(rt, name));
    };
    let cur = current.value;
    if opts
        .uid
        .as_ref()
        .is_some_and(|u| Some(u) != meta_str(&cur, "uid").as_ref())
        || opts
            .resource_version
            .as_ref()
            .is_some_and(|r| Some(r) != meta_str(&cur, "resourceVersion").as_ref())
    {
        return Err(ApiError::conflict(rt, name));
    }
    let mut new = cur.clone();
    if !finalizers(&cur).is_empty() {
        if cur.pointer("/metadata/deletionTimestamp").is_some() || opts.dry_run {
            return Ok(cur);
        }
        let generation = cur
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let rv = state.next_rv();
        let m = meta(&mut new);
        m.insert("deletionTimestamp".into(), json!(now_rfc3339()));
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
        m.insert("generation".into(), json!(generation + 1));
        m.insert("resourceVersion".into(), json!(rv.to_string()));
        state.objects.insert(
            k,
            Stored {
                value: new.clone(),
                owners: current.owners,
            },
        );
        state.emit(Change {
            rv,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            kind: ChangeKind::Modified,
            object: new.clone(),
            old: Some(cur),
            encoded: Default::default(),
        });
        return Ok(new);
    }
    if opts.dry_run {
        return Ok(cur);
    }
    let deleted = remove(state, &k, rt.group.clone(), rt.plural.clone());
    after_delete(state, rt, &cur);
    Ok(deleted.unwrap_or(cur))
}

/// Removes an object now; returns it with the deletion's resourceVersion.
fn remove(state: &mut State, k: &ObjKey, group: String, plural: String) -> Option<Value> {
    let stored = state.objects.remove(k)?;
    let rv = state.next_rv();
    let mut obj = stored.value;
    meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
    state.emit(Change {
        rv,
        group,
        plural,
        kind: ChangeKind::Deleted,
        object: obj.clone(),
        old: None,
        encoded: Default::default(),
    });
    Some(obj)
}

/// Cascades: a deleted CRD takes its resource and objects with it, a deleted namespace
/// its objects.
pub fn after_delete(state: &mut State, rt: &ResourceType, deleted: &Value) {
    if is_crd(rt) {
        let name = meta_str(deleted, "name").unwrap_or_default();
        let group = deleted
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let plural = deleted
            .pointer("/spec/names/plural")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        state.registry.unregister_crd(&name);
        let keys: Vec<_> = state
            .objects
            .keys()
            .filter(|k| k.0 == group && k.1 == plural)
            .cloned()
            .collect();
        for k in keys {
            remove(state, &k, group.clone(), plural.clone());
        }
    } else if rt.group.is_empty() && rt.plural == "namespaces" {
        let ns = meta_str(deleted, "name").unwrap_or_default();
        let keys: Vec<_> = state
            .objects
            .keys()
            .filter(|k| k.2 == ns)
            .cloned()
            .collect();
        for k in keys {
            remove(state, &k, k.0.clone(), k.1.clone());
        }
    }
}
