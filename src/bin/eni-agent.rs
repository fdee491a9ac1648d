//! `eni-agent`: the node agent that configures attached ENIs over netlink.

use clap::Parser;

/// Brings a node's attached ENIs up and sets their MTU.
#[derive(Debug, Parser)]
#[command(name = "eni-agent", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!("the node agent is not available in this build yet")
}
