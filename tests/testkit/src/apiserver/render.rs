//! What shape an answer takes, from the request's `Accept` header: the objects
//! themselves, a `meta.k8s.io/v1` Table (kubectl's printing) or `PartialObjectMetadata`
//! (kube's metadata-only API and `metadata_watcher`).

use serde_json::{Value, json};

use super::resources::ResourceType;
use super::table::{IncludeObject, table};

/// The representation a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// Plain objects and `XList`s.
    Object,
    /// Tables, carrying rows' objects as `includeObject` says.
    Table(IncludeObject),
    /// `PartialObjectMetadata` and `PartialObjectMetadataList`.
    Metadata,
}

impl Render {
    /// Reads the first media type of `Accept` (and `includeObject` for tables).
    pub fn from_request(accept: &str, include_object: Option<&str>) -> Self {
        let first = accept.split(',').next().unwrap_or_default();
        if first.contains("as=Table") {
            Self::Table(IncludeObject::parse(include_object))
        } else if first.contains("as=PartialObjectMetadata") {
            Self::Metadata
        } else {
            Self::Object
        }
    }

    /// One object (already [`present`]ed) as asked.
    pub fn one(self, rt: &ResourceType, obj: Value) -> Value {
        match self {
            Self::Object => obj,
            Self::Table(include) => {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(json!(""));
                table(rt, &[obj], json!({"resourceVersion": rv}), include)
            }
            Self::Metadata => partial(obj),
        }
    }

    /// A list of (presented) objects with list metadata, as asked.
    pub fn list(self, rt: &ResourceType, items: Vec<Value>, meta: Value) -> Value {
        match self {
            Self::Object => json!({
                "kind": rt.list_kind(),
                "apiVersion": rt.api_version(),
                "metadata": meta,
                "items": items,
            }),
            Self::Table(include) => table(rt, &items, meta, include),
            Self::Metadata => json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items.into_iter().map(partial).collect::<Vec<_>>(),
            }),
        }
    }
}

fn partial(obj: Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// Sets `apiVersion` to the served version (custom resources are stored unconverted).
pub fn present(rt: &ResourceType, mut obj: Value) -> Value {
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), json!(rt.api_version()));
    }
    obj
}
