//! The worker side: the sessions a worker runs its tasks in, the shared token it checks, and the
//! gRPC server it listens with. Used by `hgsql worker` and by the coordinator's own worker,
//! which runs the stages holding lookups.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion_distributed::{ChannelResolver, DistributedExt, Worker, WorkerQueryContext, WorkerSessionBuilder};
use http::HeaderMap;
use parking_lot::RwLock;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use url::Url;

use super::BUILD;
use super::channels::SameBuildChannels;
use super::codec::LookupCodec;
use crate::plan::apply_lookup_settings;

/// The header the coordinator sends the shared token in.
pub const TOKEN_HEADER: &str = "x-hgsql-worker-token";

/// The shared token of a cluster, kept as its digest: the worker compares digests, so neither
/// the comparison's time nor a log line can give the token away.
#[derive(Clone)]
pub struct TokenCheck([u8; 32]);

impl TokenCheck {
    pub fn new(token: &SecretString) -> TokenCheck {
        TokenCheck(Sha256::digest(token.expose_secret().as_bytes()).into())
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(sent) = headers.get(TOKEN_HEADER) else { return false };
        let digest: [u8; 32] = Sha256::digest(sent.as_bytes()).into();
        digest == self.0
    }
}

/// Builds the session each task runs in: hgsql's settings for lookup joins (on the coordinator,
/// the coordinator's own optimizer settings, `SET`s included), the codec that refuses lookup
/// nodes, and the token check.
#[derive(Clone)]
pub struct WorkerSessions {
    token: Option<TokenCheck>,
    /// How this worker dials the others to pull their shuffled rows: one resolver for all
    /// its tasks, so connections and build checks are shared.
    channels: Arc<dyn ChannelResolver + Send + Sync>,
    /// The coordinator's session, whose optimizer settings its own worker follows.
    coordinator: Arc<OnceLock<Weak<RwLock<SessionState>>>>,
}

impl WorkerSessions {
    /// Sessions for a worker that checks `token` when one is given.
    pub fn new(token: Option<TokenCheck>) -> WorkerSessions {
        WorkerSessions { token, channels: Arc::new(SameBuildChannels::default()), coordinator: Default::default() }
    }

    /// Makes the sessions follow `state`'s optimizer settings (the coordinator's own worker).
    pub fn follow(&self, state: &Arc<RwLock<SessionState>>) {
        let _ = self.coordinator.set(Arc::downgrade(state));
    }
}

#[async_trait]
impl WorkerSessionBuilder for WorkerSessions {
    async fn build_session_state(&self, context: WorkerQueryContext) -> Result<SessionState> {
        if let Some(token) = &self.token
            && !token.admits(&context.headers)
        {
            return Err(DataFusionError::Plan(
                "this hgsql worker needs the cluster's shared token, and the coordinator sent none or \
                 another: start both with --token-env naming a variable that holds the same token"
                    .to_string(),
            ));
        }
        let mut builder: SessionStateBuilder = context.builder;
        let config = builder.config().get_or_insert_default();
        let coordinator = self.coordinator.get().and_then(Weak::upgrade);
        match coordinator {
            Some(state) => config.options_mut().optimizer = state.read().config_options().optimizer.clone(),
            None => apply_lookup_settings(&mut config.options_mut().optimizer),
        }
        Ok(builder
            .with_distributed_user_codec(LookupCodec)
            .with_distributed_channel_resolver(self.channels.clone())
            .build())
    }
}

/// A worker of this build running `sessions`, on `runtime` when given (the coordinator shares its
/// own, with its memory limit and object stores).
pub fn worker(sessions: WorkerSessions, runtime: Option<Arc<RuntimeEnv>>) -> Worker {
    let worker = Worker::from_session_builder(sessions).with_version(BUILD);
    match runtime {
        Some(runtime) => worker.with_runtime_env(runtime),
        None => worker,
    }
}

/// A worker serving on a listener; dropping it stops the server.
pub struct Serving {
    /// What the worker is dialled at.
    pub url: Url,
    task: JoinHandle<()>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Serving {
    /// Waits until the server stops (it runs until dropped or the process ends).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Serves `worker` over gRPC on `listener`, known to others as `advertise` (or the address bound).
pub fn serve(worker: Worker, listener: TcpListener, advertise: Option<Url>) -> Result<Serving> {
    let bound = listener.local_addr()?;
    let url = match advertise {
        Some(url) => url,
        None => url_of(bound)?,
    };
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let task = tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(worker.into_worker_server())
            .serve_with_incoming(incoming)
            .await;
        if let Err(e) = served {
            tracing::error!("hgsql worker server on {bound} stopped: {e}");
        }
    });
    Ok(Serving { url, task })
}

/// The URL a worker bound to `address` is dialled at. An unspecified address (0.0.0.0) names no
/// one host: the caller must say what to advertise.
pub fn url_of(address: SocketAddr) -> Result<Url> {
    if address.ip().is_unspecified() {
        return Err(DataFusionError::Configuration(format!(
            "{address} listens on every interface, so it names no address to be dialled at: \
             give the URL others reach it by (--advertise / --coordinator-advertise)"
        )));
    }
    Url::parse(&format!("http://{address}")).map_err(|e| DataFusionError::Configuration(e.to_string()))
}
