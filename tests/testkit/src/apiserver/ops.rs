//! Create, update and delete as the apiserver's generic registry does them: server
//! managed metadata, optimistic concurrency, status subresource separation, generation
//! bumping, finalizers and deletionTimestamp, admission of custom resources, and the
//! side effects of CRDs (registration) and namespaces (cascading deletion).

use std::sync::Arc;

use serde_json::{Value, json};

use super::admission::{Validation, admit};
use super::delete::after_delete;
use super::error::{ApiError, ApiResult};
use super::meta::{
    finalizers, meta, meta_str, now_rfc3339, random_suffix, set_or_remove, spec_part,
};
use super::resources::{ResourceType, crd_resource_types};
use super::ssa::{FieldOwners, record_update};
use super::store::{Change, ChangeKind, State, Stored, key};

/// Options common to every write.
#[derive(Debug, Clone)]
pub struct WriteOpts {
    /// Field manager recorded as owner of what the write changes.
    pub manager: String,
    /// `dryRun=All`: validate and answer, but store nothing.
    pub dry_run: bool,
    /// `fieldValidation`: what to do with unknown fields.
    pub validation: Validation,
    /// `Some("status")` for writes to the status subresource.
    pub subresource: Option<String>,
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored (or as it would be, for dry runs).
    pub object: Value,
    /// Whether the write created the object (answered with `201`).
    pub created: bool,
    /// `Warning` headers to send (unknown fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
}

/// Builds the new object from the current one (`None` if absent), with the owners to
/// record (`None`: derive them from what changed).
pub type Proposal = (Value, Option<FieldOwners>);

/// The namespace part of an object key: required for namespaced resources, empty otherwise.
pub fn resolve_namespace(rt: &ResourceType, ns: Option<&str>) -> ApiResult<String> {
    match (rt.namespaced, ns) {
        (true, Some(ns)) => Ok(ns.to_string()),
        (true, None) => Err(ApiError::bad_request(
            "the server could not find the requested resource: a namespace is required",
        )),
        (false, _) => Ok(String::new()),
    }
}

/// Creates an object (POST, or apply/update of an absent one).
pub fn create(
    state: &mut State,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    mut obj: Value,
    opts: &WriteOpts,
    owners: Option<FieldOwners>,
) -> ApiResult<Written> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the resource ({})",
            rt.kind
        )));
    }
    obj["apiVersion"] = json!(rt.api_version());
    obj["kind"] = json!(rt.kind);
    let namespace = resolve_namespace(rt, ns)?;
    let m = meta(&mut obj);
    let name = match (
        m.get("name").and_then(Value::as_str),
        m.get("generateName").and_then(Value::as_str),
    ) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}{}", random_suffix()),
        _ => {
            let cause = (
                "FieldValueRequired".to_string(),
                "metadata.name: Required value: name or generateName is required".to_string(),
                "metadata.name".to_string(),
            );
            return Err(ApiError::invalid(rt, "", vec![cause]));
        }
    };
    m.insert("name".into(), json!(name));
    if rt.namespaced {
        if let Some(body_ns) = m.get("namespace").and_then(Value::as_str)
            && body_ns != namespace
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        m.insert("namespace".into(), json!(namespace));
    } else {
        m.remove("namespace");
    }
    for field in [
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "selfLink",
    ] {
        m.remove(field);
    }
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(now_rfc3339()));
    m.insert("generation".into(), json!(1));
    if rt.namespaced && !namespace_exists(state, &namespace) {
        let ns_rt = state.registry.get("", "v1", "namespaces");
        return Err(match ns_rt {
            Some(ns_rt) => ApiError::not_found(&ns_rt, &namespace),
            None => ApiError::internal("namespaces are not served"),
        });
    }
    let k = key(rt, &namespace, &name);
    if state.objects.contains_key(&k) {
        return Err(ApiError::already_exists(rt, &name));
    }
    if rt.is_custom()
        && rt.status_subresource
        && let Value::Object(o) = &mut obj
    {
        o.remove("status");
    }
    let (mut obj, warnings) = admit(rt, obj, opts.validation)?;
    special_on_create(rt, &mut obj)?;
    if opts.dry_run {
        return Ok(Written {
            object: obj,
            created: true,
            warnings,
        });
    }
    if is_crd(rt) {
        state.registry.register_crd(&obj)?;
    }
    let rv = state.next_rv();
    meta(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
    let owners = owners
        .unwrap_or_else(|| record_update(&FieldOwners::new(), &Value::Null, &obj, &opts.manager));
    state.objects.insert(
        k,
        Stored {
            value: obj.clone(),
            owners,
        },
    );
    state.emit(Change {
        rv,
        group: rt.group.clone(),
        plural: rt.plural.clone(),
        kind: ChangeKind::Added,
        object: obj.clone(),
        old: None,
        encoded: Default::default(),
    });
    Ok(Written {
        object: obj,
        created: true,
        warnings,
    })
}

/// Whether `rt` is `customresourcedefinitions`.
pub fn is_crd(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions"
}

fn namespace_exists(state: &State, ns: &str) -> bool {
    state
        .objects
        .contains_key(&(String::new(), "namespaces".into(), String::new(), ns.into()))
}

/// Server-populated fields of some built-ins: a namespace is `Active`, a CRD is
/// `Established` with its names accepted.
fn special_on_create(rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    if rt.group.is_empty() && rt.plural == "namespaces" && obj.pointer("/status/phase").is_none() {
        obj["status"] = json!({"phase": "Active"});
    }
    if is_crd(rt) {
        crd_resource_types(obj)?;
        let now = now_rfc3339();
        let storage: Vec<Value> = obj
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("storage") == Some(&Value::Bool(true)))
            .filter_map(|v| v.get("name").cloned())
            .collect();
        let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
        obj["status"] = json!({
            "acceptedNames": obj.pointer("/spec/names").cloned().unwrap_or(json!({})),
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "storedVersions": storage,
        });
    }
    Ok(())
}

/// Replaces or patches an object: `make` builds the proposed object from the current
/// one. With `create_if_missing` (server-side apply) an absent object is created.
pub fn update(
    state: &mut State,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    opts: &WriteOpts,
    create_if_missing: bool,
    make: impl FnOnce(Option<&Stored>) -> ApiResult<Proposal>,
) -> ApiResult<Written> {
    let namespace = resolve_namespace(rt, ns)?;
    let k = key(rt, &namespace, name);
    let Some(current) = state.objects.get(&k).cloned() else {
        if !create_if_missing || opts.subresource.is_some() {
            return Err(ApiError::not_found(rt, name));
        }
        let (obj, owners) = make(None)?;
        check_name(&obj, name)?;
        return create(state, rt, ns, obj, opts, owners);
    };
    let (mut new, owners) = make(Some(&current))?;
    if !new.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    check_name(&new, name)?;
    let cur = &current.value;
    if let Some(rv) = meta_str(&new, "resourceVersion").filter(|rv| !rv.is_empty())
        && Some(&rv) != meta_str(cur, "resourceVersion").as_ref()
    {
        return Err(ApiError::conflict(rt, name));
    }
    if opts.subresource.as_deref() == Some("status") {
        let status = new.get("status").cloned();
        new = cur.clone();
        set_or_remove(&mut new, "status", status);
    } else if rt.status_subresource {
        set_or_remove(&mut new, "status", cur.get("status").cloned());
    }
    new["apiVersion"] = json!(rt.api_version());
    new["kind"] = json!(rt.kind);
    let m = meta(&mut new);
    m.remove("managedFields");
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "generateName",
    ] {
        match cur.get("metadata").and_then(|cm| cm.get(field)) {
            Some(v) => m.insert(field.into(), v.clone()),
            None => m.remove(field),
        };
    }
    let deleting = cur.pointer("/metadata/deletionTimestamp").is_some();
    if deleting {
        let old = finalizers(cur);
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !old.contains(f))
            .collect();
        if !added.is_empty() {
            let msg = format!(
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
            );
            return Err(ApiError::invalid(
                rt,
                name,
                vec![(
                    "FieldValueForbidden".into(),
                    msg,
                    "metadata.finalizers".into(),
                )],
            ));
        }
    }
    let (mut new, warnings) = admit(rt, new, opts.validation)?;
    if is_crd(rt) {
        crd_resource_types(&new)?;
    }
    if new == *cur {
        return Ok(Written {
            object: new,
            created: false,
            warnings,
        });
    }
    if spec_part(&new) != spec_part(cur) {
        let generation = cur
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta(&mut new).insert("generation".into(), json!(generation + 1));
    }
    if opts.dry_run {
        return Ok(Written {
            object: new,
            created: false,
            warnings,
        });
    }
    let rv = state.next_rv();
    meta(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
    let owners = owners.unwrap_or_else(|| record_update(&current.owners, cur, &new, &opts.manager));
    if deleting && finalizers(&new).is_empty() {
        state.objects.remove(&k);
        state.emit(Change {
            rv,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            kind: ChangeKind::Deleted,
            object: new.clone(),
            old: Some(cur.clone()),
            encoded: Default::default(),
        });
        after_delete(state, rt, &new);
    } else {
        if is_crd(rt) {
            state.registry.register_crd(&new)?;
        }
        state.objects.insert(
            k,
            Stored {
                value: new.clone(),
                owners,
            },
        );
        state.emit(Change {
            rv,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            kind: ChangeKind::Modified,
            object: new.clone(),
            old: Some(cur.clone()),
            encoded: Default::default(),
        });
    }
    Ok(Written {
        object: new,
        created: false,
        warnings,
    })
}

fn check_name(obj: &Value, name: &str) -> ApiResult<()> {
    match meta_str(obj, "name") {
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}
