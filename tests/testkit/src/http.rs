//! A plain HTTP/1.0 GET for the binaries' `/metrics` and probes: no client crate, since
//! the servers under test answer an HTTP/1.0 request and close.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

/// An answer: its status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code (0 when the status line is not HTTP).
    pub status: u16,
    /// Everything after the headers.
    pub body: String,
}

/// GET `path` from `addr`.
pub async fn get(addr: impl ToSocketAddrs, path: &str) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok(Answer {
        status,
        body: body.to_string(),
    })
}
