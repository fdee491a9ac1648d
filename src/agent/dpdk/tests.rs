use super::*;

const MAC: &str = "02:00:00:00:00:06";
const PCI: &str = "0000:00:06.0";

fn want(release: bool, pci: Option<&str>) -> DpdkRequest {
    DpdkRequest {
        driver: "vfio-pci".into(),
        resource_name: Some("intel.com/ena_dpdk".into()),
        pci_address: pci.map(str::to_string),
        release,
    }
}

fn seen(pci: &str, driver: Option<&str>, macs: &[&str]) -> DeviceSeen {
    DeviceSeen {
        pci: pci.into(),
        driver: driver.map(str::to_string),
        macs: macs.iter().map(|m| m.to_string()).collect(),
    }
}

fn recorded(pci: &str) -> DpdkReport {
    DpdkReport {
        pci_address: Some(pci.into()),
        driver: Some("vfio-pci".into()),
        kernel_driver: Some("ena".into()),
        resource_name: Some("intel.com/ena_dpdk".into()),
        bound: true,
        released: false,
    }
}

#[test]
fn steps() {
    let bind = DeviceStep::Bind {
        pci: PCI.into(),
        driver: "vfio-pci".into(),
    };
    let release = DeviceStep::Release { pci: PCI.into() };
    let rec = recorded(PCI);
    type Case<'a> = (
        &'a str,
        DpdkRequest,
        Option<&'a DpdkReport>,
        Option<DeviceSeen>,
        DeviceStep,
    );
    let cases: Vec<Case> = vec![
        ("nothing seen yet", want(false, None), None, None, DeviceStep::Wait),
        (
            "the ENI's interface on ena: bind it",
            want(false, None),
            None,
            Some(seen(PCI, Some("ena"), &[MAC])),
            bind.clone(),
        ),
        (
            "unbound with its interface gone, recorded: bind it",
            want(false, None),
            Some(&rec),
            Some(seen(PCI, None, &[])),
            bind.clone(),
        ),
        (
            "bound, as recorded: keep (a restart does not re-bind)",
            want(false, None),
            Some(&rec),
            Some(seen(PCI, Some("vfio-pci"), &[])),
            DeviceStep::Keep,
        ),
        (
            "bound beforehand by someone else: keep",
            want(false, Some(PCI)),
            None,
            Some(seen(PCI, Some("vfio-pci"), &[])),
            DeviceStep::Keep,
        ),
        (
            "dpdkPCIAddress names the primary interface's device: refused",
            want(false, Some("0000:00:05.0")),
            None,
            Some(seen("0000:00:05.0", Some("ena"), &["02:00:00:00:00:05"])),
            DeviceStep::Refuse(
                "PCI device 0000:00:05.0 is the interface with MAC 02:00:00:00:00:05, not this ENI's: left alone".into(),
            ),
        ),
        (
            "an unbound device nobody recorded: refused",
            want(false, Some(PCI)),
            None,
            Some(seen(PCI, None, &[])),
            DeviceStep::Refuse(
                "PCI device 0000:00:06.0 has no network interface, and this agent did not bind it: whether it is this ENI's cannot be told, so it is left alone".into(),
            ),
        ),
        (
            "release asked, bound and recorded: release",
            want(true, None),
            Some(&rec),
            Some(seen(PCI, Some("vfio-pci"), &[])),
            release,
        ),
        (
            "release asked, back on ena: keep",
            want(true, None),
            Some(&rec),
            Some(seen(PCI, Some("ena"), &[MAC])),
            DeviceStep::Keep,
        ),
        (
            "release asked, never bound: keep",
            want(true, None),
            None,
            Some(seen(PCI, Some("ena"), &[MAC])),
            DeviceStep::Keep,
        ),
        (
            "release asked of a device bound by someone else: refused",
            want(true, Some(PCI)),
            None,
            Some(seen(PCI, Some("vfio-pci"), &[])),
            DeviceStep::Refuse(
                "PCI device 0000:00:06.0 has no network interface, and this agent did not bind it: whether it is this ENI's cannot be told, so it is left alone".into(),
            ),
        ),
    ];
    for (name, w, r, d, expected) in cases {
        assert_eq!(step(MAC, &w, r, d.as_ref()), expected, "{name}");
    }
}

#[test]
fn the_address_looked_at() {
    let rec = recorded("0000:00:07.0");
    assert_eq!(
        address(&want(false, Some(PCI)), Some("0000:00:08.0"), Some(&rec)).as_deref(),
        Some(PCI),
        "the NodeENI's first"
    );
    assert_eq!(
        address(&want(false, None), Some("0000:00:08.0"), Some(&rec)).as_deref(),
        Some("0000:00:08.0"),
        "then the interface's device"
    );
    assert_eq!(
        address(&want(false, None), None, Some(&rec)).as_deref(),
        Some("0000:00:07.0"),
        "then the one recorded"
    );
    assert_eq!(address(&want(false, None), None, None), None);
}

#[test]
fn reports() {
    // Bound now: the kernel driver recorded stays, the resource is offered.
    let on_vfio = seen(PCI, Some("vfio-pci"), &[]);
    let bound = report(
        &want(false, None),
        Some(&recorded(PCI)),
        Some(&on_vfio),
        Some(&on_vfio),
        true,
    );
    assert_eq!(bound, recorded(PCI));
    // First sight, still on ena: ena is where it goes back.
    let on_ena = seen(PCI, Some("ena"), &[MAC]);
    let first = report(&want(false, None), None, Some(&on_ena), Some(&on_ena), true);
    assert_eq!(first.kernel_driver.as_deref(), Some("ena"));
    assert_eq!(first.driver.as_deref(), Some("ena"));
    assert!(!first.bound);
    assert_eq!(first.resource_name, None, "not offered while not bound");
    // Bound by this step: ena, where it was, is where it goes back.
    let just_bound = report(
        &want(false, None),
        None,
        Some(&on_ena),
        Some(&on_vfio),
        true,
    );
    assert!(just_bound.bound);
    assert_eq!(just_bound.kernel_driver.as_deref(), Some("ena"));
    assert_eq!(
        just_bound.resource_name.as_deref(),
        Some("intel.com/ena_dpdk")
    );
    // Released.
    let released = report(
        &want(true, None),
        Some(&recorded(PCI)),
        Some(&on_vfio),
        Some(&on_ena),
        true,
    );
    assert!(released.released && !released.bound);
    assert_eq!(released.kernel_driver.as_deref(), Some("ena"));
    // Nothing seen: what was recorded, not bound.
    let unseen = report(&want(false, None), Some(&recorded(PCI)), None, None, true);
    assert_eq!(unseen.pci_address.as_deref(), Some(PCI));
    assert!(!unseen.bound && !unseen.released);
}

#[test]
fn nothing_of_a_device_not_this_enis_is_recorded() {
    // dpdkPCIAddress names the primary's device: refused, and the report records neither
    // its address nor its driver, so the next look does not take it for this ENI's.
    let primary = seen("0000:00:05.0", Some("ena"), &["02:00:00:00:00:05"]);
    let r = report(
        &want(false, Some("0000:00:05.0")),
        None,
        Some(&primary),
        Some(&primary),
        false,
    );
    assert_eq!(r.pci_address, None);
    assert_eq!(r.kernel_driver, None);
    assert!(!r.bound);
    // Its interface gone (bound elsewhere since), it is still not this ENI's.
    let without = seen("0000:00:05.0", None, &[]);
    assert!(!is_own(MAC, &without, Some(&r)));
    assert!(matches!(
        step(
            MAC,
            &want(false, Some("0000:00:05.0")),
            Some(&r),
            Some(&without)
        ),
        DeviceStep::Refuse(_)
    ));
    // A device already on vfio-pci that this agent never saw with the MAC (a prepared
    // node, or another ENI's): reported bound, recorded without a kernel driver, and a
    // release of it is refused.
    let prepared = seen(PCI, Some("vfio-pci"), &[]);
    let r = report(
        &want(false, Some(PCI)),
        None,
        Some(&prepared),
        Some(&prepared),
        false,
    );
    assert!(r.bound);
    assert_eq!(r.pci_address.as_deref(), Some(PCI));
    assert_eq!(r.kernel_driver, None);
    assert!(!is_own(MAC, &prepared, Some(&r)));
    assert!(matches!(
        step(MAC, &want(true, Some(PCI)), Some(&r), Some(&prepared)),
        DeviceStep::Refuse(_)
    ));
}
