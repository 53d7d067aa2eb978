//! `hg.intent`: research topics a company shows interest in (`POST /company/intent`, charged).

use super::{ApiFilter, COMPANY_KEY, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "intent",
    endpoint: Endpoint::INTENT,
    description: "Topics a company is researching, with signal strength and trend (1 credit per company, once; one company per call).",
    columns: &[
        COMPANY_KEY,
        field(Endpoint::INTENT, "topic_id", "HG intent topic id (filter with = / IN: sent to HG)."),
        field(Endpoint::INTENT, "topic_name", "Topic."),
        field(Endpoint::INTENT, "url", "Page about the topic."),
        field(Endpoint::INTENT, "signal_strength", "Strength of the interest."),
        field(Endpoint::INTENT, "signal_trend", "Change of the signal."),
        field(Endpoint::INTENT, "location_strength", "Strength of the signal at this location."),
        field(Endpoint::INTENT, "buyers_journey_name", "Stage of the buyer's journey."),
        field(Endpoint::INTENT, "context_name_array", "Kinds of content the signal came from."),
        field(Endpoint::INTENT, "state_name", "State of the signal."),
        field(Endpoint::INTENT, "country_name", "Country of the signal."),
        field(Endpoint::INTENT, "region_name", "Region of the signal, e.g. AMER."),
        field(Endpoint::INTENT, "datestamp", "Day of the signal."),
    ],
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: &[Pushdown { column: "topic_id", filter: ApiFilter::Wire("topic_ids"), exact: false }],
};

/// On v2 (`POST /intent/enrich`): v2 sends no page URL and no state, country or region of a
/// signal (those columns are NULL), and takes no topic filter (DataFusion applies it).
pub static SPEC_V2: TableSpec = TableSpec {
    endpoint: Endpoint::V2_INTENT,
    description: "Topics a company is researching, with signal strength and trend (1 credit per company, once; one company per call). On v2, url, state_name, country_name and region_name are not sent.",
    pushdown: &[],
    ..SPEC
};
