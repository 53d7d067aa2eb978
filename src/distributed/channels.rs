//! How hgsql processes dial each other: datafusion-distributed's gRPC channels, plus two things
//! it does not do. Each worker is asked its build the first time it is dialled, and one of
//! another build is refused. And a connection that breaks mid-query names the worker it went
//! to, so the user knows which one to look at.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion_distributed::grpc::DefaultChannelResolver;
use datafusion_distributed::{
    ChannelResolver, CoordinatorToWorkerMsg, ExecuteTaskRequest, GetWorkerInfoRequest, GetWorkerInfoResponse,
    SetPlanRequest, WorkerChannel, WorkerToCoordinatorMsg,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::HeaderMap;
use parking_lot::Mutex;
use url::Url;

use super::BUILD;

/// Why a worker could not take part in a query.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "cannot reach hgsql worker {url}: {reason}. Start it there with `hgsql worker --listen HOST:PORT`, or \
         leave it out of --workers"
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "hgsql worker {url} runs {theirs}, and this coordinator is {BUILD}: plans pass between them as \
         DataFusion protobuf, so every process must run the same hgsql build. Start the worker with this build"
    )]
    OtherBuild { url: String, theirs: String },
    #[error(
        "hgsql worker {url} was lost mid-query ({reason}); the query stopped and wrote nothing. Restart the \
         worker, or leave it out of --workers, and run the query again"
    )]
    Lost { url: String, reason: String },
}

impl WorkerError {
    fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}

/// A worker's URL as `hgsql worker` prints it (without the trailing `/`).
pub fn shown(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// What went wrong on the wire, in a few words.
fn reason(error: &DataFusionError) -> String {
    let text = format!("{error:?}");
    if text.contains("Connection refused") {
        "nothing listens there (connection refused)".to_string()
    } else if text.contains("dns error") {
        "its host name does not resolve".to_string()
    } else if text.contains("timed out") || text.contains("Elapsed") {
        "it did not answer in time".to_string()
    } else if text.contains("broken pipe") || text.contains("reset") || text.contains("error reading") {
        "its connection broke".to_string()
    } else {
        error.find_root().message().to_string()
    }
}

fn unreachable(url: &Url, error: &DataFusionError) -> DataFusionError {
    WorkerError::Unreachable { url: shown(url).to_string(), reason: reason(error) }.into_datafusion()
}

/// `error`, naming the worker at `url` when the connection to it broke. An error the worker
/// itself reported arrives decoded, and passes as it is; one of the transport stays a gRPC
/// status or a Flight error.
fn named(url: &Url, error: DataFusionError) -> DataFusionError {
    let transport = match &error {
        DataFusionError::External(inner) => inner.is::<tonic::Status>() || inner.to_string().contains("transport"),
        _ => false,
    };
    match transport {
        true => WorkerError::Lost { url: shown(url).to_string(), reason: reason(&error) }.into_datafusion(),
        false => error,
    }
}

/// Dials workers as datafusion-distributed does, checks each one's build once, and names the
/// worker in the errors of its connection. Shared by the coordinator and the workers (which
/// dial each other to shuffle).
#[derive(Default)]
pub struct SameBuildChannels {
    channels: DefaultChannelResolver,
    checked: Mutex<HashSet<Url>>,
}

#[async_trait]
impl ChannelResolver for SameBuildChannels {
    async fn get_worker_client_for_url(&self, url: &Url) -> Result<Box<dyn WorkerChannel>> {
        let mut client = self.channels.get_worker_client_for_url(url).await.map_err(|e| unreachable(url, &e))?;
        if !self.checked.lock().contains(url) {
            same_build(client.as_mut(), url).await?;
            self.checked.lock().insert(url.clone());
        }
        Ok(Box::new(NamedChannel { url: url.clone(), inner: client }))
    }
}

/// How long a worker may take to say which build it is.
const INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// A worker that took longer than [`INFO_TIMEOUT`].
fn silent(url: &Url) -> DataFusionError {
    WorkerError::Unreachable { url: shown(url).to_string(), reason: "it did not answer in time".into() }
        .into_datafusion()
}

/// Fails unless the worker behind `client` runs this build.
async fn same_build(client: &mut dyn WorkerChannel, url: &Url) -> Result<()> {
    let info = tokio::time::timeout(INFO_TIMEOUT, client.get_worker_info(GetWorkerInfoRequest {}))
        .await
        .map_err(|_| silent(url))?
        .map_err(|e| unreachable(url, &e))?;
    if info.version != BUILD {
        let theirs = if info.version.is_empty() { "no hgsql build".to_string() } else { info.version };
        return Err(WorkerError::OtherBuild { url: shown(url).to_string(), theirs }.into_datafusion());
    }
    Ok(())
}

/// Connects to the worker at `url` and fails, saying why, unless it runs this build, as a
/// coordinator would when it first dials it (`hgsql doctor --workers`).
pub async fn check_worker(url: &Url) -> Result<()> {
    let channels = DefaultChannelResolver::default();
    let mut client = tokio::time::timeout(INFO_TIMEOUT, channels.get_worker_client_for_url(url))
        .await
        .map_err(|_| silent(url))?
        .map_err(|e| unreachable(url, &e))?;
    same_build(client.as_mut(), url).await
}

/// A worker's channel whose transport errors name the worker.
struct NamedChannel {
    url: Url,
    inner: Box<dyn WorkerChannel>,
}

#[async_trait]
impl WorkerChannel for NamedChannel {
    async fn coordinator_channel(
        &mut self,
        headers: HeaderMap,
        set_plan_request: SetPlanRequest,
        c2w_stream: BoxStream<'static, CoordinatorToWorkerMsg>,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<BoxStream<'static, Result<WorkerToCoordinatorMsg>>> {
        let url = self.url.clone();
        let stream = self
            .inner
            .coordinator_channel(headers, set_plan_request, c2w_stream, metrics, task_ctx)
            .await
            .map_err(|e| named(&self.url, e))?;
        Ok(stream.map(move |message| message.map_err(|e| named(&url, e))).boxed())
    }

    async fn execute_task(
        &mut self,
        headers: HeaderMap,
        request: ExecuteTaskRequest,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<Vec<BoxStream<'static, Result<RecordBatch>>>> {
        let streams =
            self.inner.execute_task(headers, request, metrics, task_ctx).await.map_err(|e| named(&self.url, e))?;
        Ok(streams
            .into_iter()
            .map(|stream| {
                let url = self.url.clone();
                stream.map(move |batch| batch.map_err(|e| named(&url, e))).boxed()
            })
            .collect())
    }

    async fn get_worker_info(&mut self, request: GetWorkerInfoRequest) -> Result<GetWorkerInfoResponse> {
        self.inner.get_worker_info(request).await.map_err(|e| named(&self.url, e))
    }
}
