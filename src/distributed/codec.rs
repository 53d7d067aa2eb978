//! `LookupCodec`: how lookup nodes cross the wire between hgsql processes, which is to say they
//! do not. The coordinator runs every stage holding one in its own process, without encoding it;
//! a stage that still reaches a worker names the node it carried and is refused there, loudly,
//! instead of a worker without a key calling the API or waiting for keys that never come.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::join::ApiJoinExec;
use crate::plan::{ApiScanExec, HttpScanExec};

/// What an encoded lookup node starts with.
const MARK: &str = "hgsql-lookup:";

/// Encodes each lookup node as its description alone (the HG table's name; never an HTTP
/// table's URL, which may be a secret) and refuses to decode one.
#[derive(Debug, Default)]
pub struct LookupCodec;

/// What a lookup node is called in the refusal.
fn describe(node: &Arc<dyn ExecutionPlan>) -> Option<String> {
    if let Some(scan) = node.downcast_ref::<ApiScanExec>() {
        return Some(format!("a scan of hg.{}", scan.spec().name));
    }
    if node.is::<HttpScanExec>() {
        return Some("a scan of an HTTP table".to_string());
    }
    node.is::<ApiJoinExec>().then(|| "a join feeding an API lookup".to_string())
}

/// The refusal a worker gives a stage holding `what`.
pub fn refusal(what: &str) -> String {
    format!(
        "this hgsql worker was sent {what}: API lookups run only in the coordinator, which holds \
         the API key, rate limits and cache. The coordinator is another hgsql build than this \
         worker, or this is a bug: run the same hgsql build everywhere (hgsql doctor --workers …)"
    )
}

impl PhysicalExtensionCodec for LookupCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let text = String::from_utf8_lossy(buf);
        let what = text.strip_prefix(MARK).unwrap_or("a node it does not know");
        Err(DataFusionError::Plan(refusal(what)))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(what) = describe(&node) else {
            return Err(DataFusionError::NotImplemented(format!("hgsql does not encode {}", node.name())));
        };
        buf.extend_from_slice(MARK.as_bytes());
        buf.extend_from_slice(what.as_bytes());
        Ok(())
    }
}
