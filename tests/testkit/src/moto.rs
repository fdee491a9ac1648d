//! The moto server (PyPI `moto[server]`) as a test fixture: one private server per test
//! on a free 127.0.0.1 port, and helpers that build a small VPC in it with the real
//! `aws-sdk-ec2` client.
//!
//! The binary is `$MOTO_SERVER` if set, else the venv the README's test command creates
//! (`$HOME/.cache/aws-multi-eni-controller/venv`), else `moto_server` on `PATH`.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

/// Region every test uses.
pub const REGION: &str = "us-east-1";

/// A running moto server, killed on drop.
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// The moto_server binary the tests use.
pub fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = PathBuf::from(home).join(".cache/aws-multi-eni-controller/venv/bin/moto_server");
        if venv.exists() {
            return venv;
        }
    }
    PathBuf::from("moto_server")
}

pub use crate::ports::free_port;

impl MotoServer {
    /// Starts moto and waits (up to 60 s) until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let bin = moto_binary();
        let port = free_port()?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (run the README's test command, which installs moto, or set MOTO_SERVER)",
                    bin.display()
                )
            })?;
        let mut server = MotoServer { child, port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("moto_server exited early with {status}");
            }
            if Instant::now() > deadline {
                bail!("moto_server did not listen on {addr} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A real SDK client pointed at this server.
    pub fn client(&self) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .build();
        aws_sdk_ec2::Client::from_conf(config)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small network built inside moto: one VPC, one subnet per zone (named
/// `multus-<zone>`), a security group, and instances.
#[derive(Debug, Clone)]
pub struct MotoNetwork {
    /// The VPC.
    pub vpc_id: String,
    /// (subnet ID, zone), one per zone asked for.
    pub subnets: Vec<(String, String)>,
    /// A security group named `multus`.
    pub security_group_id: String,
    /// (instance ID, zone).
    pub instances: Vec<(String, String)>,
}

fn tagged(kind: ResourceType, key: &str, value: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .tags(Tag::builder().key(key).value(value).build())
        .build()
}

/// Builds a [`MotoNetwork`] with `per_zone` instances of `instance_type` in each zone,
/// tagged as members of the cluster named `cluster` (`kubernetes.io/cluster/<cluster>`
/// = `owned`, as EKS node groups are).
pub async fn build_network(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    zones: &[&str],
    per_zone: usize,
    instance_type: &str,
) -> anyhow::Result<MotoNetwork> {
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("vpc id")?
        .to_string();
    let mut subnets = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{}.0/24", i + 1))
            .availability_zone(*zone)
            .tag_specifications(tagged(
                ResourceType::Subnet,
                "Name",
                &format!("multus-{zone}"),
            ))
            .send()
            .await?;
        let id = s
            .subnet()
            .and_then(|s| s.subnet_id())
            .context("subnet id")?;
        subnets.push((id.to_string(), zone.to_string()));
    }
    let sg = ec2
        .create_security_group()
        .group_name("multus")
        .description("multus test group")
        .vpc_id(&vpc_id)
        .send()
        .await?;
    let security_group_id = sg.group_id().context("group id")?.to_string();
    let images = ec2.describe_images().send().await?;
    let ami = images
        .images()
        .iter()
        .find_map(|i| i.image_id())
        .context("moto offers no AMI")?
        .to_string();
    let mut instances = Vec::new();
    for (subnet_id, zone) in &subnets {
        for _ in 0..per_zone {
            let out = ec2
                .run_instances()
                .image_id(&ami)
                .instance_type(instance_type.into())
                .subnet_id(subnet_id)
                .min_count(1)
                .max_count(1)
                .tag_specifications(tagged(
                    ResourceType::Instance,
                    &format!("kubernetes.io/cluster/{cluster}"),
                    "owned",
                ))
                .send()
                .await?;
            let id = out
                .instances()
                .first()
                .and_then(|i| i.instance_id())
                .context("instance id")?;
            instances.push((id.to_string(), zone.clone()));
        }
    }
    Ok(MotoNetwork {
        vpc_id,
        subnets,
        security_group_id,
        instances,
    })
}

/// Every ENI ID moto knows whose tag `key` equals `value`.
/// (ENI, instance, device index) of every ENI tagged for `cluster`
/// (`networking.k8s.aws/cluster`).
pub async fn cluster_enis(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
) -> anyhow::Result<Vec<(String, Option<String>, Option<i32>)>> {
    Ok(enis_tagged(ec2, "networking.k8s.aws/cluster", cluster)
        .await?
        .iter()
        .map(|n| {
            let a = n.attachment();
            (
                n.network_interface_id().unwrap_or_default().to_string(),
                a.and_then(|a| a.instance_id()).map(str::to_string),
                a.and_then(|a| a.device_index()),
            )
        })
        .collect())
}

async fn enis_tagged(
    ec2: &aws_sdk_ec2::Client,
    key: &str,
    value: &str,
) -> anyhow::Result<Vec<aws_sdk_ec2::types::NetworkInterface>> {
    let out = ec2
        .describe_network_interfaces()
        .filters(
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build(),
        )
        .send()
        .await?;
    Ok(out.network_interfaces().to_vec())
}

/// The network's subnet and `more` subnets beside it in its zone (10.0.101.0/24 on).
pub async fn with_more_subnets(
    ec2: &aws_sdk_ec2::Client,
    net: &MotoNetwork,
    zone: &str,
    more: usize,
) -> anyhow::Result<Vec<String>> {
    let mut subnets = vec![net.subnets[0].0.clone()];
    for i in 1..=more {
        let s = ec2
            .create_subnet()
            .vpc_id(&net.vpc_id)
            .cidr_block(format!("10.0.{}.0/24", 100 + i))
            .availability_zone(zone)
            .send()
            .await?;
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .context("subnet id")?
                .to_string(),
        );
    }
    Ok(subnets)
}

pub async fn eni_ids_tagged(
    ec2: &aws_sdk_ec2::Client,
    key: &str,
    value: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(enis_tagged(ec2, key, value)
        .await?
        .iter()
        .filter_map(|n| n.network_interface_id().map(str::to_string))
        .collect())
}
