//! `hg.intent`: research topics a company shows interest in (`POST /company/intent`, charged).

use super::ColumnType::{Date, Float, Id, Int, Text, TextList};
use super::{ApiFilter, COMPANY_KEY, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

pub static SPEC: TableSpec = TableSpec {
    name: "intent",
    endpoint: Endpoint::Intent,
    description: "Topics a company is researching, with signal strength and trend (1 credit per company, once; one company per call).",
    columns: &[
        COMPANY_KEY,
        field("topic_id", Id, "HG intent topic id (filter with = / IN: sent to HG)."),
        field("topic_name", Text, "Topic."),
        field("url", Text, "Page about the topic."),
        field("signal_strength", Int, "Strength of the interest."),
        field("signal_trend", Float, "Change of the signal."),
        field("location_strength", Int, "Strength of the signal at this location."),
        field("buyers_journey_name", Text, "Stage of the buyer's journey."),
        field("context_name_array", TextList, "Kinds of content the signal came from."),
        field("state_name", Text, "State of the signal."),
        field("country_name", Text, "Country of the signal."),
        field("region_name", Text, "Region of the signal, e.g. AMER."),
        field("datestamp", Date, "Day of the signal."),
    ],
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: &[Pushdown { column: "topic_id", filter: ApiFilter::TopicIds, exact: false }],
};
