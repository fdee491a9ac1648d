//! Runs the test API server until interrupted, for manual use with `kubectl` and for
//! benchmarks: `test-apiserver [--port N]` prints the URL and a kubeconfig path.

use eni_testkit::apiserver::{ServerConfig, TestApiServer};

fn port_arg() -> anyhow::Result<u16> {
    let mut args = std::env::args().skip(1);
    let mut port = 0;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--port needs a value"))?;
                port = value.parse()?;
            }
            "-h" | "--help" => {
                println!("usage: test-apiserver [--port N]");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?} (usage: test-apiserver [--port N])"),
        }
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ServerConfig {
        port: port_arg()?,
        ..ServerConfig::default()
    };
    let server = TestApiServer::start_with(config).await?;
    println!("{}", server.url());
    println!("KUBECONFIG={}", server.kubeconfig().display());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
