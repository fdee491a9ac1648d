//! `eni-agent`: the node agent that configures attached ENIs over netlink.

use aws_multi_eni_controller::config::AgentArgs;
use clap::Parser;

/// Brings this node's attached ENIs up and sets their MTU; reports on the Node.
#[derive(Debug, Parser)]
#[command(name = "eni-agent", version, about)]
struct Cli {
    #[command(flatten)]
    args: AgentArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Ok(aws_multi_eni_controller::agent::run_agent(Cli::parse().args).await?)
}
