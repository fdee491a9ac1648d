//! TCP ports for the processes a test starts (etcd, kube-apiserver, moto, Prometheus, the
//! project's binaries).
//!
//! A port the OS hands out for `127.0.0.1:0` comes from the ephemeral range, the range every
//! outgoing connection on the machine takes its source port from: between the pick and the
//! child's own bind, one of the many connections a test suite opens can take it (CI once saw
//! etcd stop with "bind: address already in use" so). These ports come from outside that
//! range, are never handed out twice by one test process, and are checked free when picked.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::TcpListener;
use std::ops::RangeInclusive;
use std::sync::Mutex;

/// Lowest port handed out (below it sit well-known and registered services' habits).
const LOWEST: u16 = 10_000;
/// Fewest ports a range must hold to be used instead of the OS's pick.
const ENOUGH: u32 = 1_000;

/// Ports this process already handed out, and where the next search starts.
static HANDED_OUT: Mutex<Option<Cursor>> = Mutex::new(None);

struct Cursor {
    range: RangeInclusive<u16>,
    next: u16,
    given: std::collections::HashSet<u16>,
}

/// The kernel's ephemeral range (`net.ipv4.ip_local_port_range`), if readable.
fn ephemeral_range() -> Option<RangeInclusive<u16>> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut parts = text.split_whitespace().map(str::parse::<u16>);
    let (low, high) = (parts.next()?.ok()?, parts.next()?.ok()?);
    Some(low..=high)
}

/// The range test ports come from: the larger of the stretches below and above the
/// ephemeral range, if it holds enough ports; `None` means "let the OS pick".
pub fn test_range(ephemeral: Option<RangeInclusive<u16>>) -> Option<RangeInclusive<u16>> {
    let ephemeral = ephemeral?;
    let below = (ephemeral.start() > &LOWEST).then(|| LOWEST..=ephemeral.start() - 1);
    let above = (ephemeral.end() < &u16::MAX).then(|| ephemeral.end() + 1..=u16::MAX);
    let size = |r: &RangeInclusive<u16>| u32::from(*r.end()) - u32::from(*r.start()) + 1;
    [below, above]
        .into_iter()
        .flatten()
        .filter(|r| size(r) >= ENOUGH)
        .max_by_key(size)
}

fn os_pick() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free TCP port on 127.0.0.1 outside the ephemeral range, not handed out before by this
/// process; the OS's own pick where the ephemeral range leaves no room.
pub fn free_port() -> anyhow::Result<u16> {
    let mut guard = HANDED_OUT
        .lock()
        .map_err(|_| anyhow::anyhow!("the port registry's lock is poisoned"))?;
    if guard.is_none() {
        let Some(range) = test_range(ephemeral_range()) else {
            return os_pick();
        };
        // A random start, so test binaries run one after another rarely retry each other's ports.
        let span = u64::from(*range.end() - *range.start()) + 1;
        let offset = RandomState::new().hash_one(std::process::id()) % span;
        let next = range.start() + u16::try_from(offset)?;
        *guard = Some(Cursor {
            range,
            next,
            given: Default::default(),
        });
    }
    let Some(cursor) = guard.as_mut() else {
        return os_pick();
    };
    let span = usize::from(cursor.range.end() - cursor.range.start()) + 1;
    for _ in 0..span {
        let port = cursor.next;
        cursor.next = if port == *cursor.range.end() {
            *cursor.range.start()
        } else {
            port + 1
        };
        if cursor.given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            cursor.given.insert(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free port left in {:?}", cursor.range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ports_come_from_the_larger_stretch_outside_the_ephemeral_range() {
        let cases = [
            (Some(32768..=60999), Some(10_000..=32767)),
            (Some(1024..=60999), Some(61_000..=65535)),
            (Some(10_500..=65000), None),
            (Some(1024..=65535), None),
            (None, None),
        ];
        for (ephemeral, want) in cases {
            assert_eq!(test_range(ephemeral.clone()), want, "{ephemeral:?}");
        }
    }

    #[test]
    fn a_port_is_handed_out_once_bindable_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        if let Some(ephemeral) = ephemeral_range()
            && test_range(Some(ephemeral.clone())).is_some()
        {
            assert!(ports.iter().all(|p| !ephemeral.contains(p)), "{ports:?}");
        }
        for port in ports {
            TcpListener::bind(("127.0.0.1", port)).unwrap();
        }
    }
}
