use super::*;

fn offer(driver: &str, pcis: &[&str]) -> Offer {
    Offer {
        drivers: [driver.to_string()].into(),
        pci_addresses: pcis.iter().map(|p| p.to_string()).collect(),
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Someone else's resource, in the plugin's documented form.
const THEIRS: &str = r#"{
  "logLevel": "info",
  "resourceList": [
    {"resourceName": "intel_sriov_netdevice", "selectors": {"vendors": ["8086"]}},
    {"resourcePrefix": "aws.com", "resourceName": "ena_dpdk",
     "selectors": {"pciAddresses": ["0000:00:09.0"], "drivers": ["vfio-pci"]}}
  ]
}"#;

#[test]
fn ours_replace_ours_and_the_rest_is_kept() {
    let offered = BTreeMap::from([(
        "aws.com/ena_dpdk".to_string(),
        offer("vfio-pci", &["0000:00:07.0", "0000:00:06.0"]),
    )]);
    let text = merged(Some(THEIRS), &set(&["aws.com/ena_dpdk"]), &offered)
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["logLevel"], "info", "other keys kept");
    let list = v["resourceList"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["resourceName"], "intel_sriov_netdevice");
    assert_eq!(list[1]["resourcePrefix"], "aws.com");
    assert_eq!(
        list[1]["selectors"]["pciAddresses"],
        json!(["0000:00:06.0", "0000:00:07.0"])
    );
    assert_eq!(list[1]["selectors"]["drivers"], json!(["vfio-pci"]));
    // The same again: nothing to write.
    assert_eq!(
        merged(Some(&text), &set(&["aws.com/ena_dpdk"]), &offered),
        Ok(None)
    );
}

#[test]
fn a_resource_no_longer_offered_is_removed_and_the_default_prefix_matches() {
    let none = BTreeMap::new();
    let text = merged(Some(THEIRS), &set(&["aws.com/ena_dpdk"]), &none)
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["resourceList"].as_array().unwrap().len(), 1);
    // A resource named without a prefix is the plugin's default prefix's.
    let text = merged(Some(THEIRS), &set(&["intel_sriov_netdevice"]), &none);
    assert!(text.is_ok());
    assert_eq!(
        split("intel_sriov_netdevice"),
        (DEFAULT_PREFIX, "intel_sriov_netdevice")
    );
    let text = merged(
        Some(THEIRS),
        &set(&["intel.com/intel_sriov_netdevice"]),
        &none,
    )
    .unwrap()
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["resourceList"][0]["resourceName"], "ena_dpdk");
    // Not ours, not offered: untouched, nothing to write.
    assert_eq!(
        merged(Some(THEIRS), &set(&["aws.com/other"]), &none),
        Ok(None)
    );
}

#[test]
fn what_is_not_a_configuration_is_refused() {
    let none = BTreeMap::new();
    for bad in ["[1, 2]", "{\"resourceList\": 3}", "{not json"] {
        assert!(merged(Some(bad), &set(&[]), &none).is_err(), "{bad}");
    }
    assert_eq!(
        merged(None, &set(&[]), &none),
        Ok(None),
        "nothing to offer, no file"
    );
    let one = BTreeMap::from([("a.com/b".to_string(), offer("vfio-pci", &["0000:00:06.0"]))]);
    assert!(
        merged(None, &set(&[]), &one).unwrap().is_some(),
        "a new file"
    );
}

#[test]
fn resource_names() {
    for (r, ok) in [
        ("intel.com/sriov_dpdk", true),
        ("aws.com/ena0", true),
        ("sriov_dpdk", true),
        ("aws.com/ena-dpdk", false),
        ("aws.com/", false),
        ("/x", false),
    ] {
        assert_eq!(valid_resource(r), ok, "{r}");
    }
}

#[test]
fn the_file_is_replaced_whole_and_unreadable_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pcidp/config.json");
    let offered = BTreeMap::from([(
        "aws.com/ena_dpdk".to_string(),
        offer("vfio-pci", &["0000:00:06.0"]),
    )]);
    let managed = set(&["aws.com/ena_dpdk"]);
    assert_eq!(update(&path, &managed, &offered), Ok(true), "created");
    assert_eq!(update(&path, &managed, &offered), Ok(false), "unchanged");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["resourceList"][0]["resourceName"], "ena_dpdk");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "the plugin may read it");
    }
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
    std::fs::write(&path, "{broken").unwrap();
    let err = update(&path, &managed, &offered).unwrap_err();
    assert_eq!(err.label(), "device_plugin_config_unreadable");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{broken");
}
