//! [`SysfsPci`] over a sysfs tree laid out as the kernel lays it out (symlinks and all),
//! in a temporary directory: the reads follow the same links, and the writes land in the
//! files the kernel would act on (the kernel's reaction is not there, so a bind reads the
//! old driver back).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

const ENI: &str = "0000:00:06.0";
const PRIMARY: &str = "0000:00:05.0";

/// `/sys` with two ENA devices (the primary interface `ens5` and an ENI `ens6`), the
/// drivers `ena` and `vfio-pci` loaded, and a virtual interface `veth0`.
fn tree(root: &Path, vfio: bool) {
    let bus = root.join("bus/pci");
    fs::create_dir_all(bus.join("drivers/ena")).unwrap();
    fs::write(bus.join("drivers/ena/unbind"), "").unwrap();
    if vfio {
        fs::create_dir_all(bus.join("drivers/vfio-pci")).unwrap();
        fs::write(bus.join("drivers/vfio-pci/unbind"), "").unwrap();
    }
    fs::write(bus.join("drivers_probe"), "").unwrap();
    fs::create_dir_all(root.join("devices/pci0000:00")).unwrap();
    fs::create_dir_all(bus.join("devices")).unwrap();
    fs::create_dir_all(root.join("class/net")).unwrap();
    for (pci, netdev, mac) in [
        (PRIMARY, "ens5", "02:00:00:00:00:05"),
        (ENI, "ens6", "02:00:00:00:00:06"),
    ] {
        let dev = root.join("devices/pci0000:00").join(pci);
        fs::create_dir_all(dev.join("net").join(netdev)).unwrap();
        fs::write(
            dev.join("net").join(netdev).join("address"),
            format!("{mac}\n"),
        )
        .unwrap();
        fs::write(dev.join("driver_override"), "(null)\n").unwrap();
        symlink("../../../bus/pci/drivers/ena", dev.join("driver")).unwrap();
        symlink("../../../bus/pci", dev.join("subsystem")).unwrap();
        symlink(
            format!("../../../devices/pci0000:00/{pci}"),
            bus.join("devices").join(pci),
        )
        .unwrap();
        symlink(
            format!("../../devices/pci0000:00/{pci}/net/{netdev}"),
            root.join("class/net").join(netdev),
        )
        .unwrap();
        symlink(
            format!("../../../{pci}"),
            dev.join("net").join(netdev).join("device"),
        )
        .unwrap();
    }
    fs::create_dir_all(root.join("devices/virtual/net/veth0")).unwrap();
    symlink(
        "../../devices/virtual/net/veth0",
        root.join("class/net/veth0"),
    )
    .unwrap();
}

#[tokio::test]
async fn reads_the_device_its_driver_and_its_interfaces_macs() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), true);
    let pci = SysfsPci::new(dir.path());
    assert_eq!(pci.address_of("ens6").await.as_deref(), Some(ENI));
    assert_eq!(pci.address_of("ens5").await.as_deref(), Some(PRIMARY));
    assert_eq!(pci.address_of("veth0").await, None, "not a PCI device");
    assert_eq!(pci.address_of("missing").await, None);
    assert_eq!(pci.address_of("../ens6").await, None, "never a path");
    assert_eq!(pci.driver_of(ENI).await, Ok(Some("ena".into())));
    assert_eq!(
        pci.macs_of(ENI).await,
        vec!["02:00:00:00:00:06".to_string()]
    );
    assert_eq!(
        pci.driver_of("0000:00:09.0").await,
        Err(PciError::NoDevice("0000:00:09.0".into()))
    );
    assert_eq!(
        pci.driver_of("../../x").await,
        Err(PciError::NoDevice("../../x".into()))
    );
}

#[tokio::test]
async fn a_bind_unbinds_and_probes_and_a_device_its_driver_did_not_take_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), true);
    let pci = SysfsPci::new(dir.path());
    // The tree has no kernel behind it: the device stays on ena, which bind reports.
    let out = pci.bind(ENI, Some("vfio-pci")).await;
    assert_eq!(
        out,
        Err(PciError::NotBound {
            pci: ENI.into(),
            wanted: "vfio-pci".into(),
            now: "ena".into()
        })
    );
    let dev = dir.path().join("devices/pci0000:00").join(ENI);
    // The driver did not take it (no kernel here): the override is cleared again and the
    // device probed, so that its own driver takes it back rather than leaving it without
    // one, its interface gone.
    assert_eq!(
        fs::read_to_string(dev.join("driver_override")).unwrap(),
        "\n"
    );
    let bus = dir.path().join("bus/pci");
    assert_eq!(
        fs::read_to_string(bus.join("drivers/ena/unbind")).unwrap(),
        ENI
    );
    assert_eq!(fs::read_to_string(bus.join("drivers_probe")).unwrap(), ENI);
    // The primary device was not written to.
    let primary = dir.path().join("devices/pci0000:00").join(PRIMARY);
    assert_eq!(
        fs::read_to_string(primary.join("driver_override")).unwrap(),
        "(null)\n"
    );
}

#[tokio::test]
async fn a_release_clears_the_override_and_a_missing_driver_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), false);
    let pci = SysfsPci::new(dir.path());
    assert_eq!(
        pci.bind(ENI, Some("vfio-pci")).await,
        Err(PciError::NoDriver("vfio-pci".into()))
    );
    let dev = dir.path().join("devices/pci0000:00").join(ENI);
    assert_eq!(
        fs::read_to_string(dev.join("driver_override")).unwrap(),
        "(null)\n",
        "nothing written for a driver that is not there"
    );
    assert_eq!(pci.bind(ENI, None).await, Ok(Some("ena".into())));
    assert_eq!(
        fs::read_to_string(dev.join("driver_override")).unwrap(),
        "\n"
    );
}

#[test]
fn addresses_are_checked_before_they_become_paths() {
    for (pci, ok) in [
        ("0000:00:06.0", true),
        ("0000:af:1f.7", true),
        ("0000:00:06", false),
        ("../../../../etc", false),
        ("0000:00:06.0/", false),
        ("0000-00-06.0", false),
        ("", false),
    ] {
        assert_eq!(valid_address(pci), ok, "{pci}");
    }
}
