//! `eni-controller`: the controller (`run`), the embedded simulation (`simulate`) and the
//! CRD generator (`crd`).

use anyhow::Context;
use aws_multi_eni_controller::config::ControllerArgs;
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
    /// Run the controller against the cluster (in-cluster config or KUBECONFIG) and EC2.
    Run(Box<ControllerArgs>),
    /// Run the controller against an in-process cluster and EC2 simulator.
    Simulate(aws_multi_eni_controller::config::SimulateArgs),
    /// Print the CustomResourceDefinitions (NodeENI, then ENINode) as YAML.
    Crd {
        /// Only this one.
        #[arg(long, value_enum)]
        kind: Option<CrdKind>,
    },
}

/// A CRD of the project.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CrdKind {
    /// `nodeenis.networking.k8s.aws`.
    Nodeeni,
    /// `eninodes.networking.k8s.aws`.
    Eninode,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd { kind } => {
            use aws_multi_eni_controller::k8s::{crd, eninode};
            let yaml = match kind {
                None => crd::all_crds_yaml(),
                Some(CrdKind::Nodeeni) => crd::crd_yaml(),
                Some(CrdKind::Eninode) => eninode::crd_yaml(),
            }
            .context("serialising the CRDs")?;
            print!("{yaml}");
            Ok(())
        }
        Command::Run(args) => {
            let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
            Ok(runtime.block_on(aws_multi_eni_controller::run::run_controller(*args))?)
        }
        Command::Simulate(args) => {
            let report = aws_multi_eni_controller::simulate::run(&args)?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.words());
            }
            Ok(())
        }
    }
}
