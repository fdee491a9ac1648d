//! Using the EC2 port as a library: create an ENI, attach it, detach it, delete it.
//!
//! ```text
//! SUBNET_ID=subnet-… SECURITY_GROUP_ID=sg-… INSTANCE_ID=i-… \
//!   cargo run --example eni_lifecycle
//! ```
//!
//! Credentials and Region come from the usual places (environment, profile, instance
//! metadata). To try it against moto, start `moto_server -p 5000`, create a subnet,
//! group and instance there, and set `AWS_ENDPOINT_URL_EC2=http://127.0.0.1:5000`,
//! `AWS_REGION=us-east-1`, `AWS_ACCESS_KEY_ID=test`, `AWS_SECRET_ACCESS_KEY=test`.

use std::time::Duration;

use anyhow::{Context, bail};
use aws_multi_eni_controller::aws::{
    AttachRequest, AttachmentStatus, ClientToken, CreateEniRequest, Ec2, EniStatus, describe_eni,
    sdk::{SdkEc2, SdkEc2Config},
};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("set {name}"))
}

/// Polls `check` every 500 ms until it returns true or `limit` passes.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await? {
        if tokio::time::Instant::now() > deadline {
            bail!("{what} did not happen within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (subnet_id, group_id, instance_id) = (
        env("SUBNET_ID")?,
        env("SECURITY_GROUP_ID")?,
        env("INSTANCE_ID")?,
    );
    let ec2 = SdkEc2::connect(SdkEc2Config::default()).await?;

    // The token makes the create idempotent: running this twice with the same token
    // returns the same ENI instead of making a second one.
    let eni = ec2
        .create_eni(CreateEniRequest {
            subnet_id,
            security_group_ids: vec![group_id],
            description: "aws-multi-eni-controller library example".into(),
            tags: [("example".to_string(), "eni_lifecycle".to_string())].into(),
            client_token: ClientToken::new(format!("example-{instance_id}")),
            secondary_ipv4_count: 0,
            ipv4_prefix_count: 0,
            ipv6_address_count: 0,
            ipv6_prefix_count: 0,
            connection_tracking: None,
        })
        .await?;
    println!(
        "created {} (mac {}, ip {:?})",
        eni.id, eni.mac_address, eni.private_ip
    );

    let attachment_id = ec2
        .attach_eni(AttachRequest {
            eni_id: eni.id.clone(),
            instance_id: instance_id.clone(),
            device_index: 1,
            network_card_index: 0,
            ena: Default::default(),
        })
        .await?;
    println!("attached as {attachment_id}");
    wait_for("attach", Duration::from_secs(60), || async {
        let e = describe_eni(&ec2, &eni.id).await?;
        Ok(e.and_then(|e| e.attachment)
            .is_some_and(|a| a.status == AttachmentStatus::Attached))
    })
    .await?;

    ec2.detach_eni(&attachment_id, false).await?;
    wait_for("detach", Duration::from_secs(60), || async {
        let e = describe_eni(&ec2, &eni.id).await?;
        Ok(e.is_some_and(|e| e.status == EniStatus::Available))
    })
    .await?;
    println!("detached");

    ec2.delete_eni(&eni.id).await?;
    println!("deleted {}", eni.id);
    Ok(())
}
