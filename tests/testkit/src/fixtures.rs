//! Objects shaped like the ones a real EKS cluster sends, for memory and speed
//! measurements: a Node here carries the labels, annotations, managed fields and status
//! (conditions, addresses, capacity, 40 container images, node info) that kubelet and the
//! cloud provider write, about 14 KB of JSON, so what the controller holds for thousands
//! of nodes is measured against realistic input rather than a name and a label.

use serde_json::{Value, json};

/// What varies between the nodes of a fixture cluster.
#[derive(Debug, Clone)]
pub struct NodeShape {
    /// Node name.
    pub name: String,
    /// EKS node group (label `eks.amazonaws.com/nodegroup`).
    pub nodegroup: String,
    /// EC2 instance ID in the provider ID.
    pub instance_id: String,
    /// Availability Zone.
    pub zone: String,
    /// Node's private IP.
    pub ip: String,
}

impl NodeShape {
    /// The `i`-th node of a cluster with `groups` node groups, spread over `zones`.
    pub fn nth(i: usize, groups: usize, zones: &[&str]) -> NodeShape {
        let zone = zones[i % zones.len().max(1)].to_string();
        let ip = format!("10.{}.{}.{}", 1 + i / 65_000, (i / 250) % 256, 4 + i % 250);
        NodeShape {
            name: format!("ip-{}.ec2.internal", ip.replace('.', "-")),
            nodegroup: format!("ng-{}", i % groups.max(1)),
            instance_id: format!("i-{:017x}", 0x0a00_0000_0000_0000_u64 + i as u64),
            zone,
            ip,
        }
    }
}

fn images() -> Vec<Value> {
    (0..40)
        .map(|k| {
            let repo = format!("602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/workload-{k:02}");
            json!({
                "names": [
                    format!("{repo}@sha256:{:064x}", 0xfeed_0000_u64 + k),
                    format!("{repo}:v1.{k}.0-eksbuild.1"),
                ],
                "sizeBytes": 40_000_000 + k * 1_000_003,
            })
        })
        .collect()
}

fn managed_fields(now: &str) -> Value {
    json!([
        {
            "manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": now,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:alpha.kubernetes.io/provided-node-ip": {}, "f:node.alpha.kubernetes.io/ttl": {}, "f:volumes.kubernetes.io/controller-managed-attach-detach": {}}, "f:labels": {".": {}, "f:beta.kubernetes.io/arch": {}, "f:beta.kubernetes.io/os": {}, "f:kubernetes.io/arch": {}, "f:kubernetes.io/hostname": {}, "f:kubernetes.io/os": {}}}, "f:spec": {"f:providerID": {}}}
        },
        {
            "manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": now,
            "fieldsType": "FieldsV1", "subresource": "status",
            "fieldsV1": {"f:status": {"f:allocatable": {"f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}, "f:pods": {}}, "f:capacity": {"f:cpu": {}, "f:ephemeral-storage": {}, "f:memory": {}, "f:pods": {}}, "f:conditions": {"k:{\"type\":\"DiskPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"MemoryPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"PIDPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"Ready\"}": {"f:lastHeartbeatTime": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}}}, "f:images": {}, "f:nodeInfo": {"f:bootID": {}, "f:systemUUID": {}}}}
        },
        {
            "manager": "aws-cloud-controller-manager", "operation": "Update", "apiVersion": "v1", "time": now,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:beta.kubernetes.io/instance-type": {}, "f:failure-domain.beta.kubernetes.io/region": {}, "f:failure-domain.beta.kubernetes.io/zone": {}, "f:node.kubernetes.io/instance-type": {}, "f:topology.kubernetes.io/region": {}, "f:topology.kubernetes.io/zone": {}}}}
        }
    ])
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastHeartbeatTime": now, "lastTransitionTime": "2026-01-05T08:00:00Z"})
}

/// A Node as an EKS cluster serves it, with `extra_labels` added to the usual ones.
pub fn eks_node(shape: &NodeShape, extra_labels: &[(&str, &str)]) -> Value {
    let now = "2026-11-23T10:00:00Z";
    let region = "us-east-1";
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "m5.2xlarge",
        "beta.kubernetes.io/os": "linux",
        "eks.amazonaws.com/capacityType": "ON_DEMAND",
        "eks.amazonaws.com/nodegroup": shape.nodegroup,
        "eks.amazonaws.com/nodegroup-image": "ami-0c2b8ca1dad447f8a",
        "eks.amazonaws.com/sourceLaunchTemplateId": "lt-0123456789abcdef0",
        "eks.amazonaws.com/sourceLaunchTemplateVersion": "3",
        "failure-domain.beta.kubernetes.io/region": region,
        "failure-domain.beta.kubernetes.io/zone": shape.zone,
        "k8s.io/cloud-provider-aws": "a94967527effcefb5f5829f529c0a1b9",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": shape.name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "m5.2xlarge",
        "topology.ebs.csi.aws.com/zone": shape.zone,
        "topology.k8s.aws/zone-id": format!("use1-az{}", shape.zone.len() % 6 + 1),
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": shape.zone,
    });
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": shape.name,
            "labels": labels,
            "annotations": {
                "alpha.kubernetes.io/provided-node-ip": shape.ip,
                "csi.volume.kubernetes.io/nodeid": format!("{{\"ebs.csi.aws.com\":\"{}\"}}", shape.instance_id),
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "managedFields": managed_fields(now),
        },
        "spec": {"providerID": format!("aws:///{}/{}", shape.zone, shape.instance_id)},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": shape.ip},
                {"type": "InternalDNS", "address": shape.name},
                {"type": "Hostname", "address": shape.name},
            ],
            "allocatable": {"cpu": "7910m", "ephemeral-storage": "95551679124", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "31482112Ki", "pods": "58"},
            "capacity": {"cpu": "8", "ephemeral-storage": "104845292Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "32392448Ki", "pods": "58"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images(),
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": format!("{:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b", shape.ip.len() * 7919),
                "containerRuntimeVersion": "containerd://1.7.27",
                "kernelVersion": "6.1.132-147.221.amzn2023.x86_64",
                "kubeProxyVersion": "v1.32.3-eks-473151a",
                "kubeletVersion": "v1.32.3-eks-473151a",
                "machineID": "ec2a1b2c3d4e5f60718293a4b5c6d7e8",
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.7.20250414",
                "systemUUID": "ec2a1b2c-3d4e-5f60-7182-93a4b5c6d7e8",
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_as_large_as_a_real_one() {
        let shape = NodeShape::nth(4321, 50, &["us-east-1a", "us-east-1b"]);
        let node = eks_node(&shape, &[("multus", "yes")]);
        let size = serde_json::to_vec(&node).unwrap().len();
        assert!((10_000..30_000).contains(&size), "{size} bytes");
        assert_eq!(node["metadata"]["labels"]["multus"], "yes");
        assert_eq!(
            node["spec"]["providerID"],
            format!("aws:///us-east-1b/{}", shape.instance_id)
        );
        let other = NodeShape::nth(4322, 50, &["us-east-1a"]);
        assert_ne!(shape.name, other.name);
        assert_ne!(shape.instance_id, other.instance_id);
    }
}
