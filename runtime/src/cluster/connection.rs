//! Reaching a cluster: the address and credentials ([`Cluster`]), the connection, and the
//! streams, buckets and object store every client and node uses (created on first use).

use super::message::{CHUNKS, MODULES, NODES, NodeStatus, RESULTS};
use super::runtime;
use crate::error::{Error, Result};
use async_nats::jetstream::{self, kv, object_store, stream};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Where a cluster's NATS server is and how to log in to it: what a context's pools
/// ([`ContextBuilder::cluster`](crate::ContextBuilder::cluster)) and `wasmproc node` connect to.
///
/// ```
/// use std::time::Duration;
/// let cluster = wasmproc::Cluster::new("nats://10.0.0.5:4222")
///     .user_password("alice", "s3cret")
///     .ack_wait(Duration::from_secs(10));
/// assert_eq!(cluster.address(), "nats://10.0.0.5:4222");
/// ```
#[derive(Clone)]
pub struct Cluster {
    url: String,
    auth: Auth,
    tls_ca: Option<PathBuf>,
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliveries: u32,
    pub(crate) orphan_timeout: Duration,
    connect_timeout: Duration,
}

#[derive(Clone)]
enum Auth {
    None,
    UserPassword(String, String),
    Token(String),
    CredsFile(PathBuf),
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::None => "none",
            Auth::UserPassword(..) => "user/password",
            Auth::Token(_) => "token",
            Auth::CredsFile(_) => "creds file",
        };
        f.debug_struct("Cluster").field("url", &self.url).field("auth", &auth).finish_non_exhaustive()
    }
}

impl From<&str> for Cluster {
    fn from(url: &str) -> Cluster {
        Cluster::new(url)
    }
}

impl From<String> for Cluster {
    fn from(url: String) -> Cluster {
        Cluster::new(url)
    }
}

impl Cluster {
    /// The server at `url` (`nats://host:4222`; `nats://user:password@host:4222` also logs in,
    /// and the password is kept out of the address shown in messages).
    pub fn new(url: impl Into<String>) -> Cluster {
        let (url, auth) = split_credentials(&url.into());
        Cluster {
            url,
            auth,
            tls_ca: None,
            ack_wait: Duration::from_secs(30),
            max_deliveries: 3,
            orphan_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The server's address, as given.
    pub fn address(&self) -> &str {
        &self.url
    }

    /// Logs in with a user name and password.
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Cluster {
        self.auth = Auth::UserPassword(user.into(), password.into());
        self
    }

    /// Logs in with a token.
    pub fn token(mut self, token: impl Into<String>) -> Cluster {
        self.auth = Auth::Token(token.into());
        self
    }

    /// Logs in with a NATS credentials file (a user JWT and its nkey seed).
    pub fn creds_file(mut self, path: impl Into<PathBuf>) -> Cluster {
        self.auth = Auth::CredsFile(path.into());
        self
    }

    /// Trusts the certificate authority in this PEM file for the server's TLS certificate (and
    /// requires TLS).
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Cluster {
        self.tls_ca = Some(path.into());
        self
    }

    /// How long a node may run a chunk without saying it is still at it (it says so every third
    /// of this) before the chunk is given to another node: how soon the work of a node that died
    /// is taken over. Default: 30 s.
    pub fn ack_wait(mut self, wait: Duration) -> Cluster {
        self.ack_wait = wait.max(Duration::from_millis(300));
        self
    }

    /// How many times a chunk is delivered before, if every node that took it died, it is
    /// answered as [`FailureKind::NodeLost`](crate::FailureKind::NodeLost) instead of tried
    /// again. Default: 3.
    pub fn max_deliveries(mut self, n: u32) -> Cluster {
        self.max_deliveries = n.max(1);
        self
    }

    /// How long the server keeps a pool's answers waiting once its program stopped reading them
    /// (it died, or was suspended): then the server forgets the pool and the nodes drop the chunks
    /// it still had queued, instead of running work nobody will read. A program that comes back
    /// later finds its pool's calls failed with an error saying so. Default: 60 s (at least 1 s).
    pub fn orphan_timeout(mut self, timeout: Duration) -> Cluster {
        self.orphan_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// How long connecting may take before it fails. Default: 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Cluster {
        self.connect_timeout = timeout;
        self
    }

    /// The nodes that are up now (their last heartbeat is at most a few seconds old), by name.
    pub fn nodes(&self) -> Result<Vec<NodeStatus>> {
        let conn = Connection::open(self)?;
        conn.nodes()
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Cluster { address: self.url.clone(), reason: reason.into() }
    }
}

/// `scheme://user:password@host…` → (`scheme://host…`, the user and password); other URLs as
/// they are.
fn split_credentials(url: &str) -> (String, Auth) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return (url.to_string(), Auth::None) };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let bare = if scheme.is_empty() { host.to_string() } else { format!("{scheme}://{host}") };
    (bare, Auth::UserPassword(user.to_string(), password.to_string()))
}

/// A connection to a cluster, with its streams and buckets.
pub(crate) struct Connection {
    pub(crate) cluster: Cluster,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) chunks: stream::Stream,
    pub(crate) results: stream::Stream,
    pub(crate) modules: object_store::ObjectStore,
    pub(crate) nodes: kv::Store,
    /// The modules this connection has uploaded or found in the store.
    uploaded: Mutex<HashSet<String>>,
    /// The subject this client serves its broker on (see `bridge`).
    pub(crate) bridge: String,
}

/// How long a heartbeat stays in the bucket: a node that stops refreshing it is gone after this.
pub(crate) const HEARTBEAT_TTL: Duration = Duration::from_secs(6);

impl Connection {
    /// Connects (within the cluster's connect timeout) and makes sure the streams exist.
    pub(crate) fn open(cluster: &Cluster) -> Result<Connection> {
        let cluster = cluster.clone();
        runtime::wait(async move { Connection::open_async(cluster).await })
    }

    async fn open_async(cluster: Cluster) -> Result<Connection> {
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(cluster.connect_timeout)
            .name(format!("wasmproc {}", std::process::id()))
            .max_reconnects(None);
        options = match &cluster.auth {
            Auth::None => options,
            Auth::UserPassword(u, p) => options.user_and_password(u.clone(), p.clone()),
            Auth::Token(t) => options.token(t.clone()),
            Auth::CredsFile(path) => options
                .credentials_file(path)
                .await
                .map_err(|e| cluster.error(format!("cannot read the credentials file {}: {e}", path.display())))?,
        };
        if let Some(ca) = &cluster.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let connecting = options.connect(cluster.url.as_str());
        let client = match tokio::time::timeout(cluster.connect_timeout, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(cluster.error(connect_error(&e))),
            Err(_) => {
                return Err(cluster.error(format!(
                    "no answer within {:?}: is nats-server running there (with -js) and reachable?",
                    cluster.connect_timeout
                )));
            }
        };
        let js = jetstream::new(client.clone());
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            cluster.error(format!(
                "cannot set up {what}: {e} (the server must run with JetStream enabled: nats-server -js)"
            ))
        };
        let chunks = js
            .get_or_create_stream(stream::Config {
                name: CHUNKS.into(),
                subjects: vec!["wasmproc.chunks.>".into()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| fail("the chunk stream", &e))?;
        let results = js
            .get_or_create_stream(stream::Config {
                name: RESULTS.into(),
                subjects: vec!["wasmproc.results.>".into()],
                retention: stream::RetentionPolicy::Interest,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| fail("the result stream", &e))?;
        let modules = match js.get_object_store(MODULES).await {
            Ok(store) => store,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: MODULES.into(),
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| fail("the module store", &e))?,
        };
        let nodes = match js.get_key_value(NODES).await {
            Ok(kv) => kv,
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: NODES.into(),
                    history: 1,
                    max_age: HEARTBEAT_TTL,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| fail("the node bucket", &e))?,
        };
        let bridge = super::bridge::subject(&nuid::next().to_string().to_ascii_lowercase());
        Ok(Connection { cluster, client, js, chunks, results, modules, nodes, uploaded: Mutex::default(), bridge })
    }

    /// Serves `broker` (the context's queues and Manager objects) to the nodes' workers.
    pub(crate) fn serve_broker(&self, broker: std::sync::Arc<crate::broker::Broker>) -> Result<()> {
        super::bridge::serve(self.client.clone(), self.bridge.clone(), broker)
            .map_err(|e| self.cluster.error(format!("cannot serve queues to the nodes: {e}")))
    }

    /// Publishes `payload` on `subject` under message id `id` until the server has stored it,
    /// retrying (the same id: a copy the server already has is dropped) while `keep_trying`
    /// holds; the stream sequence it was stored at, or `None` if it gave up.
    pub(crate) async fn store(
        &self,
        subject: String,
        id: String,
        payload: bytes::Bytes,
        keep_trying: impl Fn() -> bool,
    ) -> Option<u64> {
        use async_nats::jetstream::message::PublishMessage;
        let mut backoff = Duration::from_millis(50);
        while keep_trying() {
            let publish = PublishMessage::build().payload(payload.clone()).message_id(&id);
            if let Ok(ack) = self.js.send_publish(subject.clone(), publish).await
                && let Ok(ack) = ack.await
            {
                return Some(ack.sequence);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        None
    }

    /// The largest message the server takes.
    pub(crate) fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// Whether this connection has already uploaded (or found) the module with sha256 `digest`.
    pub(crate) fn has_uploaded(&self, digest: &str) -> bool {
        self.uploaded.lock().unwrap_or_else(|p| p.into_inner()).contains(digest)
    }

    /// Makes sure the object store holds the module whose sha256 is `digest` (uploading `bytes`,
    /// read only if needed, the first time).
    pub(crate) async fn upload(
        &self,
        digest: &str,
        name: &str,
        bytes: impl FnOnce() -> Result<std::sync::Arc<[u8]>>,
    ) -> Result<()> {
        if self.has_uploaded(digest) {
            return Ok(());
        }
        if self.modules.info(digest).await.is_err() {
            let bytes = bytes()?;
            let mut reader: &[u8] = &bytes;
            self.modules.put(digest, &mut reader).await.map_err(|e| {
                self.cluster.error(format!(
                    "cannot upload {name} ({} bytes) to the module store: {e} (a module larger than the \
                     server's JetStream storage limits needs a larger max_file_store / max_bytes)",
                    bytes.len()
                ))
            })?;
        }
        self.uploaded.lock().unwrap_or_else(|p| p.into_inner()).insert(digest.to_string());
        Ok(())
    }

    /// The nodes with a live heartbeat.
    pub(crate) fn nodes(&self) -> Result<Vec<NodeStatus>> {
        let kv = self.nodes.clone();
        let cluster = self.cluster.clone();
        runtime::wait(async move {
            let mut keys = kv.keys().await.map_err(|e| cluster.error(format!("cannot list nodes: {e}")))?;
            let mut out = Vec::new();
            while let Some(key) = keys.next().await {
                let Ok(key) = key else { continue };
                if let Ok(Some(value)) = kv.get(&key).await
                    && let Ok(status) = serde_json::from_slice::<NodeStatus>(&value)
                {
                    out.push(status);
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }
}

/// What a failed connect means, and what to do about it.
fn connect_error(e: &async_nats::ConnectError) -> String {
    use async_nats::ConnectErrorKind as K;
    match e.kind() {
        K::AuthorizationViolation | K::Authentication => {
            "the server refused the credentials (authorization violation): check the user and password, \
             token or creds file"
                .into()
        }
        K::Tls => format!("TLS failed: {e} (check the CA file and the server's certificate)"),
        K::ServerParse => format!("not a server address: {e} (expected nats://host:port)"),
        K::TimedOut => "timed out connecting: is nats-server running there and reachable?".into(),
        _ => format!("cannot connect: {e} (is nats-server running there, with -js?)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_log_in_and_stay_out_of_the_address() {
        let c = Cluster::new("nats://alice:s3cret@10.0.0.5:4222");
        assert_eq!(c.address(), "nats://10.0.0.5:4222");
        assert!(matches!(&c.auth, Auth::UserPassword(u, p) if u == "alice" && p == "s3cret"));
        let plain = Cluster::new("nats://10.0.0.5:4222");
        assert!(matches!(plain.auth, Auth::None) && plain.address() == "nats://10.0.0.5:4222");
        assert_eq!(Cluster::new("bob:pw@host:1").address(), "host:1");
    }
}
