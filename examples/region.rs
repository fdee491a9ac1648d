//! Prints the AWS Region the EC2 client resolves from its environment and where it came
//! from, the way `eni-controller run` resolves it: `AWS_REGION`, else the SDK's chain
//! (`AWS_DEFAULT_REGION`, a profile, the instance metadata service), else it stops with a
//! message (exit status 1): no Region is guessed.
//!
//! ```sh
//! cargo run --example region
//! ```

use aws_multi_eni_controller::aws::sdk::{SdkEc2, SdkEc2Config};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = SdkEc2Config {
        region: std::env::var("AWS_REGION").ok(),
        ..Default::default()
    };
    match SdkEc2::connect(config).await {
        Ok(ec2) => {
            let from = ec2.region_source().label();
            println!("{} ({from})", ec2.region().unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
