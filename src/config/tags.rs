//! `--eni-tags`: the extra tags every ENI is created with, as a JSON object (what the
//! chart renders from its `eniTags` map, and what the VPC CNI's `ADDITIONAL_ENI_TAGS`
//! takes).

use crate::plan::extra_tags::{TagMap, check};

/// Parses and checks `--eni-tags`: a JSON object of string values; empty means none.
pub fn eni_tags(text: &str) -> Result<TagMap, String> {
    if text.trim().is_empty() {
        return Ok(TagMap::new());
    }
    let tags: TagMap = serde_json::from_str(text).map_err(|e| {
        format!("must be a JSON object of strings, such as {{\"CostCenter\":\"1234\"}}: {e}")
    })?;
    check(&tags).map_err(|e| e.to_string())?;
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_object_of_strings_with_no_reserved_key() {
        assert_eq!(eni_tags(""), Ok(TagMap::new()));
        assert_eq!(eni_tags("{}"), Ok(TagMap::new()));
        assert_eq!(
            eni_tags(r#"{"CostCenter":"1234","team":"net"}"#),
            Ok([
                ("CostCenter".to_string(), "1234".to_string()),
                ("team".to_string(), "net".to_string())
            ]
            .into())
        );
        for (bad, says) in [
            ("CostCenter=1234", "JSON object"),
            (r#"{"CostCenter":1234}"#, "JSON object"),
            (r#"{"networking.k8s.aws/cluster":"x"}"#, "reserved"),
            (r#"{"aws:createdBy":"x"}"#, "reserved"),
        ] {
            let e = eni_tags(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
