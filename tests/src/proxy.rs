//! A TCP proxy between a router and one of its servers, to inject network faults from outside
//! the process.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy that can cut its links (a network partition: nothing passes either way and new
/// connections hang, as with dropped packets), slow them (latency added to every chunk, as a
/// congested or distant server), and heal them.
pub struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    delay: watch::Sender<Duration>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cut_rx) = watch::channel(false);
        let (delay, delay_rx) = watch::channel(Duration::ZERO);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let cut = cut_rx.clone();
                let delay = delay_rx.clone();
                tokio::spawn(async move {
                    // A new connection during a cut waits for the heal, like a SYN into the void.
                    let mut waiting = cut.clone();
                    let _ = waiting.wait_for(|cut| !*cut).await;
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = server.set_nodelay(true);
                    let _ = client.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, cut.clone(), delay.clone()),
                        pump(server_read, client_write, cut, delay)
                    );
                });
            }
        });
        Self {
            addr,
            cut,
            delay,
            task,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (a service on 127.0.0.1) with its port replaced by this proxy's.
    pub fn via(&self, url: &str) -> String {
        let port = loopback_of(url).port();
        url.replacen(&format!(":{port}"), &format!(":{}", self.addr.port()), 1)
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn heal(&self) {
        self.cut.send_replace(false);
    }

    /// Every chunk waits `by` before it is passed on (each way); `Duration::ZERO` ends it.
    pub fn slow(&self, by: Duration) {
        self.delay.send_replace(by);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction, holding every chunk while the link is cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: watch::Receiver<bool>,
    delay: watch::Receiver<Duration>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.wait_for(|cut| !*cut).await.is_err() {
            return;
        }
        let lag = *delay.borrow();
        if !lag.is_zero() {
            tokio::time::sleep(lag).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The loopback address of a test service URL (`postgres://…@127.0.0.1:5432/db`,
/// `redis://127.0.0.1:6379/0`): both test services listen on 127.0.0.1.
pub fn loopback_of(url: &str) -> SocketAddr {
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"));
    SocketAddr::from(([127, 0, 0, 1], port))
}
