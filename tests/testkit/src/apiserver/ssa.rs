//! Field ownership and server-side apply, simplified from the apiserver's
//! structured-merge-diff: leaves are tracked by dotted path (lists are atomic), each
//! with the set of (manager, operation) that own it. That is enough for the conflicts
//! leader election relies on (`kube-lease-manager` applies without `force` and expects
//! `409 Conflict` when another manager owns the holder fields).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Who last set a field: a field manager and whether it did so by apply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    /// The `fieldManager` of the request.
    pub manager: String,
    /// `true` for server-side apply, `false` for create/update/patch.
    pub apply: bool,
}

/// Owners of each leaf field of one object, keyed by JSON pointer like
/// `/spec/holderIdentity` (label keys contain dots, so pointers rather than dotted paths).
pub type FieldOwners = BTreeMap<String, BTreeSet<Owner>>;

/// One field an apply would take from other managers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Field path as the apiserver prints it, e.g. `.spec.holderIdentity`.
    pub field: String,
    /// The managers that own it.
    pub managers: Vec<String>,
}

/// Leaf fields of an object, by path; lists and empty maps are leaves; nulls are absent.
/// Server-managed metadata is left out (only labels, annotations, finalizers and owner
/// references can be owned).
pub fn leaves(object: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Value::Object(map) = object {
        for (k, v) in map {
            match k.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => {
                    if let Value::Object(meta) = v {
                        for key in ["labels", "annotations", "finalizers", "ownerReferences"] {
                            if let Some(v) = meta.get(key) {
                                walk(v, format!("/metadata/{key}"), &mut out);
                            }
                        }
                    }
                }
                _ => walk(v, format!("/{}", escape(k)), &mut out),
            }
        }
    }
    out
}

fn walk(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Null => {}
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                walk(v, format!("{path}/{}", escape(k)), out);
            }
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

/// Records a non-apply write by `manager`: every leaf it changed or added is now owned
/// by it alone; leaves that disappeared lose their owners.
pub fn record_update(owners: &FieldOwners, old: &Value, new: &Value, manager: &str) -> FieldOwners {
    let before = leaves(old);
    let after = leaves(new);
    let mut out = FieldOwners::new();
    for (path, value) in &after {
        if before.get(path) == Some(value) {
            if let Some(set) = owners.get(path) {
                out.insert(path.clone(), set.clone());
            }
        } else {
            let owner = Owner {
                manager: manager.to_string(),
                apply: false,
            };
            out.insert(path.clone(), BTreeSet::from([owner]));
        }
    }
    out
}

/// The result of a successful apply: the merged object and its new owners.
pub struct Applied {
    /// The object after merging the applied configuration.
    pub object: Value,
    /// Field owners after the apply.
    pub owners: FieldOwners,
}

/// Server-side apply of `config` by `manager` onto `current` (`Null` when the object
/// does not exist). Without `force`, changing a leaf owned by anyone but this manager's
/// apply is a conflict. Leaves this manager applied before and now omits are removed
/// unless another manager also owns them.
pub fn apply(
    current: &Value,
    owners: &FieldOwners,
    config: &Value,
    manager: &str,
    force: bool,
) -> Result<Applied, Vec<Conflict>> {
    let me = Owner {
        manager: manager.to_string(),
        apply: true,
    };
    let have = leaves(current);
    let want = leaves(config);
    let mut conflicts = Vec::new();
    for (path, value) in &want {
        if have.get(path).is_none_or(|v| v == value) {
            continue;
        }
        let others: Vec<String> = owners
            .get(path)
            .into_iter()
            .flatten()
            .filter(|o| o.manager != manager)
            .map(|o| o.manager.clone())
            .collect();
        if !others.is_empty() {
            conflicts.push(Conflict {
                field: dotted(path),
                managers: others,
            });
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let mut object = current.clone();
    if !object.is_object() {
        object = Value::Object(Map::new());
    }
    merge(&mut object, config);
    let mut new_owners = FieldOwners::new();
    for (path, set) in owners {
        let mut set = set.clone();
        if !want.contains_key(path) && set.remove(&me) && set.is_empty() {
            remove_path(&mut object, path);
            continue;
        }
        if !set.is_empty() {
            new_owners.insert(path.clone(), set);
        }
    }
    for (path, value) in &want {
        let set = new_owners.entry(path.clone()).or_default();
        if have.get(path) != Some(value) {
            set.clear();
        }
        set.insert(me.clone());
    }
    // Owners of leaves that no longer exist (replaced by a map or removed) go away.
    let now = leaves(&object);
    new_owners.retain(|path, _| now.contains_key(path));
    Ok(Applied {
        object,
        owners: new_owners,
    })
}

/// Deep merge for apply: maps merge key by key, lists and scalars replace, nulls remove.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else if let Some(existing) =
                    t.get_mut(k).filter(|e| e.is_object() && v.is_object())
                {
                    merge(existing, v);
                } else {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn remove_path(object: &mut Value, pointer: &str) {
    if let Some((parent, last)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = object.pointer_mut(parent)
    {
        map.remove(&unescape(last));
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(key: &str) -> String {
    key.replace("~1", "/").replace("~0", "~")
}

/// `/metadata/labels/a~1b` as `.metadata.labels.a/b`, the apiserver's notation.
fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|p| format!(".{}", unescape(p)))
        .collect()
}

/// The `409 Conflict` message the apiserver gives for apply conflicts.
pub fn conflict_message(conflicts: &[Conflict], api_version: &str) -> String {
    let lines: Vec<String> = conflicts
        .iter()
        .map(|c| {
            format!(
                "conflict with \"{}\" using {api_version}: {}",
                c.managers.join("\", \""),
                c.field
            )
        })
        .collect();
    let n = conflicts.len();
    let plural = if n == 1 { "" } else { "s" };
    format!(
        "Apply failed with {n} conflict{plural}: {}",
        lines.join("\n")
    )
}
