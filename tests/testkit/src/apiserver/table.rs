//! `meta.k8s.io/v1` Tables for kubectl's printing: custom resources get their CRD's
//! `additionalPrinterColumns` (JSONPaths evaluated, `date` columns as ages), built-ins
//! get Name and Age.

use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

use super::resources::{PrinterColumn, ResourceType};

/// How much of each object a row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses `includeObject`.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// Renders a duration like `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h) = (s / 60, s / 3600);
    let d = h / 24;
    let with = |a: i64, ua: &str, b: i64, ub: &str| {
        if b == 0 {
            format!("{a}{ua}")
        } else {
            format!("{a}{ua}{b}{ub}")
        }
    };
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        with(m, "m", s % 60, "s")
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        with(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        with(d, "d", h % 24, "h")
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        with(d / 365, "y", d % 365, "d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(timestamp: &str) -> Option<String> {
    let t: jiff::Timestamp = timestamp.parse().ok()?;
    let secs = jiff::Timestamp::now().as_second() - t.as_second();
    Some(human_duration(secs))
}

fn columns(rt: &ResourceType) -> Vec<PrinterColumn> {
    let name = PrinterColumn {
        name: "Name".into(),
        type_: "string".into(),
        format: "name".into(),
        description: "Name must be unique within a namespace.".into(),
        json_path: ".metadata.name".into(),
        priority: 0,
    };
    let age = PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        json_path: ".metadata.creationTimestamp".into(),
        priority: 0,
    };
    let mut cols = vec![name];
    if rt.printer_columns.is_empty() {
        cols.push(age);
    } else {
        cols.extend(rt.printer_columns.iter().cloned());
    }
    cols
}

fn cell(col: &PrinterColumn, obj: &Value) -> Value {
    let path = format!("${}", col.json_path);
    let found = obj
        .query(&path)
        .ok()
        .and_then(|r| r.first().map(|v| (*v).clone()));
    let Some(v) = found else {
        return Value::Null;
    };
    match col.type_.as_str() {
        "date" => v
            .as_str()
            .and_then(age)
            .map(Value::String)
            .unwrap_or(Value::Null),
        "integer" | "number" | "boolean" => v,
        _ => match v {
            Value::String(_) => v,
            other => Value::String(other.to_string()),
        },
    }
}

fn row(rt: &ResourceType, cols: &[PrinterColumn], obj: &Value, include: IncludeObject) -> Value {
    let cells: Vec<Value> = cols.iter().map(|c| cell(c, obj)).collect();
    let mut r = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            r["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
            });
        }
        IncludeObject::Object => {
            let mut o = obj.clone();
            o["apiVersion"] = json!(rt.api_version());
            r["object"] = o;
        }
    }
    r
}

/// A Table of `objects`, with list metadata (`resourceVersion`, `continue`).
pub fn table(
    rt: &ResourceType,
    objects: &[Value],
    list_meta: Value,
    include: IncludeObject,
) -> Value {
    let cols = columns(rt);
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| row(rt, &cols, o, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (8 * 3600, "8h"),
            (49 * 3600, "2d1h"),
            (10 * 86400, "10d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }
}
