//! `eni-controller`: the controller (`run`), the embedded simulation (`simulate`) and the
//! CRD generator (`crd`).

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

/// Gives Kubernetes nodes extra AWS ENIs, driven by NodeENI resources.
#[derive(Debug, Parser)]
#[command(name = "eni-controller", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller against the cluster and EC2.
    Run,
    /// Run the controller against an in-process cluster and EC2 simulator.
    Simulate,
    /// Print the NodeENI CustomResourceDefinition as YAML.
    Crd,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            let yaml =
                aws_multi_eni_controller::k8s::crd::crd_yaml().context("serialising the CRD")?;
            print!("{yaml}");
            Ok(())
        }
        Command::Run => bail!("`run` is not available in this build yet"),
        Command::Simulate => bail!("`simulate` is not available in this build yet"),
    }
}
