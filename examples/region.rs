//! Prints the AWS Region the EC2 client resolves from its environment, the way
//! `eni-controller run` resolves it: `AWS_REGION` (or a profile), else the instance
//! metadata service, else `us-west-2`.
//!
//! ```sh
//! cargo run --example region
//! ```

#[tokio::main]
async fn main() {
    let ec2 = aws_multi_eni_controller::aws::sdk::SdkEc2::connect(Default::default()).await;
    println!("{}", ec2.region().unwrap_or_default());
}
