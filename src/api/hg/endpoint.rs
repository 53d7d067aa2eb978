//! An HG endpoint is a declaration: one [`EndpointSpec`] value says where it is, how it is
//! called, how the companies (or other keys) it is about travel, how it pages, which fields it
//! returns with their types, which filters it takes and in what wire form, and whether it
//! charges credits. The client and the tables read these values; nothing else in `api/` or
//! `plan/` names a particular endpoint. The v1 declarations are in `v1.rs` beside this file.

/// How a field's JSON value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Text,
    /// A hexadecimal HG id, normalised to 32 characters.
    Id,
    Int,
    Float,
    /// Seconds since the Unix epoch, shown as a UTC timestamp.
    Timestamp,
    /// `YYYY-MM-DD`; an RFC 3339 timestamp keeps its date part.
    Date,
    /// A list of strings.
    TextList,
    /// `true` or `false`.
    Bool,
}

/// The field the client stamps on every row it receives: when it came from HG (Unix seconds).
/// It travels with the row into the cache, so a cached row still says when it was fetched.
pub const FETCHED_AT: &str = "_hg_fetched_at";

/// The HTTP method; a GET carries its parameters in the query string, a POST in a JSON body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// The query parameters of a match request (`GET`): the inputs and how many matches to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchParams {
    pub domain: &'static str,
    pub name: &'static str,
    pub country: &'static str,
    pub limit: &'static str,
    /// Most matches one request returns.
    pub max_limit: u32,
}

/// How the keys a lookup is about travel in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// No key: a listing (search, catalog).
    None,
    /// Match inputs as query parameters, one input per request.
    Match(MatchParams),
    /// Up to `max` match inputs a request, as objects in the body's `companies` list, with one
    /// `limit` for them all (v2). The answer is tied back to the inputs by what it echoes.
    MatchBatch { params: MatchParams, max: usize },
    /// One company id per request, as `{"<field>": {"<id>": "…"}}` at the top of the body,
    /// beside the filters (v2 intent and functional areas).
    OneAsObject { field: &'static str, id: &'static str },
    /// Up to `max` company ids a request as `companies.ids`, with the field `group` named in
    /// `fields` and the filters and paging under that group's name (v2 enrich).
    Enrich { group: &'static str, max: usize },
    /// One company id per request, at the top level of the body.
    OneInBody { field: &'static str },
    /// One company id per request, inside `filters`.
    OneInFilters { field: &'static str },
    /// Up to `max` company ids per request as the list `filters.<many>`; a single id may go
    /// as `filters.<one>`. Every row of the answer names its company in `one`.
    Batch { one: &'static str, many: &'static str, max: usize },
}

impl Keys {
    /// Companies one request may carry (1 unless the endpoint takes a batch).
    pub fn batch_max(self) -> usize {
        match self {
            Keys::Batch { max, .. } | Keys::MatchBatch { max, .. } | Keys::Enrich { max, .. } => max.max(1),
            _ => 1,
        }
    }
}

/// How an answer longer than a page is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// One answer, whole (firmographic: one row per company).
    None,
    /// `limit` and `offset` in the query (GET) or the body (POST), until a short page or the
    /// `count` (docs/hg-api.md §1).
    LimitOffset,
    /// `limit` and `offset` applied to each company of the request, with each company's total
    /// beside its rows: only the companies that have more are asked again (v2 enrich).
    PerCompany,
}

/// Where an answer's rows are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerShape {
    /// `{"count": n, "data": [...]}`, or that object under `at` (v2 intent's `topics`).
    Data { at: Option<&'static str> },
    /// The list of rows under `list`, the total under `count` (v2 search's `companies`).
    List { list: &'static str, count: &'static str },
    /// One entry per input, each with its candidates (v2 match, docs/hg-api-v2.md §2.1).
    Matches,
    /// One entry per company found, the group's data inside it: an object (one row), or the
    /// rows under `list` with the company's total under `count` (v2 enrich, §2.2).
    Companies { group: &'static str, rows: Option<(&'static str, &'static str)> },
    /// A number under `at` (v2's estimates: `{"credits_estimate": 40}`), as one row whose
    /// field `value` holds it; other keys are ignored.
    Number { at: &'static str },
    /// One object under `at`, as one row; a bare number there is its `remaining` (v2's
    /// `GET /credits`: `{"credits": {"total", "used", "remaining"}}` or `{"credits": n}`).
    Balance { at: &'static str },
}

/// The kind of the ids a filter lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Int,
    /// A hex id (category, topic), sent in its 32-character normal form.
    Hex,
    /// Text, sent trimmed (country codes).
    Text,
}

/// The wire form of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterForm {
    /// `{"ids": [...], "inclusion_method": "ANY_PRESENT" | "NONE_PRESENT"}` inside `filters`:
    /// takes `=`, `IN`, `<>` and `NOT IN`.
    Inclusion(IdKind),
    /// An array of inclusion objects, each one condition that must hold (search): every
    /// predicate (`=`, `IN`, `<>`, `NOT IN`) is one element.
    InclusionList(IdKind),
    /// `[...]` inside `filters`: takes `=` and `IN`.
    List(IdKind),
    /// A query parameter holding a case-insensitive substring: takes `= 'x'` and
    /// `ILIKE '%x%'`.
    Substring,
    /// `{"min": a, "max": b}`, both ends included, either optional: takes `=`, `<`, `<=`, `>`,
    /// `>=` and `BETWEEN` on a whole number.
    Range,
    /// `true` or `false`: takes `= true`, `= false`, `IS TRUE`, `IS FALSE`, `col` and `NOT col`.
    Flag,
    /// `{"<key>": [...]}`, rows with any of the values (v2's lists): takes `=` and `IN`.
    AnyOf { key: &'static str, kind: IdKind },
}

/// A filter the endpoint applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFilter {
    /// What tables call it: v1's wire name, kept for the same filter on v2 so a table's
    /// pushdown names one filter whatever the version.
    pub name: &'static str,
    /// Its key inside `filters` (POST) or its query parameter (GET); a dotted path nests
    /// objects (`firmographics.country_codes`, `technographics.products`).
    pub path: &'static str,
    pub form: FilterForm,
}

impl WireFilter {
    /// A filter sent under its own name.
    pub const fn new(name: &'static str, form: FilterForm) -> WireFilter {
        WireFilter { name, path: name, form }
    }

    /// A filter that tables call `name`, sent at `path`.
    pub const fn at(name: &'static str, path: &'static str, form: FilterForm) -> WireFilter {
        WireFilter { name, path, form }
    }

    /// The SQL that reaches the API through this filter and where it goes, for `\d TABLE`.
    pub fn describe(&self) -> String {
        let path = self.path;
        match self.form {
            FilterForm::Inclusion(_) => format!("=, IN, <>, NOT IN: filters.{path}"),
            FilterForm::List(_) => format!("=, IN: filters.{path}"),
            FilterForm::InclusionList(_) => format!("=, IN, <>, NOT IN: filters.{path} (each predicate one condition)"),
            FilterForm::Substring => format!("=, ILIKE '%x%': {path}"),
            FilterForm::Range => format!("=, <, <=, >, >=, BETWEEN: filters.{path} {{min, max}}"),
            FilterForm::Flag => format!("= true, = false, IS TRUE, IS FALSE: filters.{path}"),
            FilterForm::AnyOf { key, .. } => format!("=, IN: filters.{path}.{key}"),
        }
    }
}

/// What an endpoint charges a credit for, once a contract year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    Free,
    /// Each company it returns.
    PerCompany,
    /// Each company and value of the row field `field` it returns (v2 functional areas: per
    /// company and product). The values a request may be charged for are those of its filter
    /// `filter`, which it must send.
    PerCompanyAnd {
        field: &'static str,
        filter: &'static str,
    },
}

/// One HG endpoint, declared.
#[derive(Debug, PartialEq)]
pub struct EndpointSpec {
    /// Short name used in metrics, messages and cache keys.
    pub name: &'static str,
    /// Path below the base URL.
    pub path: &'static str,
    pub method: Method,
    pub keys: Keys,
    pub paging: Paging,
    /// Whether the request names the `fields` it wants.
    pub takes_fields: bool,
    /// Every field the endpoint can return, with its type.
    pub fields: &'static [(&'static str, FieldType)],
    pub filters: &'static [WireFilter],
    /// What HG charges credits for.
    pub charged: Charge,
    /// Rows a listing returns at most, whatever the paging.
    pub max_rows: Option<usize>,
    /// Where the rows are in an answer.
    pub answer: AnswerShape,
    /// Other spellings HG may send a field under, as (sent, the declared field): v2 names
    /// (`name`, `intensity`) and their older forms are read as the v1 fields the tables show.
    pub aliases: &'static [(&'static str, &'static str)],
}

/// A handle on an endpoint's declaration: cheap to copy, compared by name.
#[derive(Clone, Copy)]
pub struct Endpoint(&'static EndpointSpec);

impl Endpoint {
    /// The endpoint of `spec`.
    pub const fn of(spec: &'static EndpointSpec) -> Endpoint {
        Endpoint(spec)
    }

    /// Its declaration.
    pub const fn spec(self) -> &'static EndpointSpec {
        self.0
    }

    pub const fn name(self) -> &'static str {
        self.0.name
    }

    pub fn path(self) -> &'static str {
        self.0.path
    }

    pub fn charged(self) -> bool {
        self.0.charged != Charge::Free
    }

    /// What it charges for.
    pub fn charge(self) -> Charge {
        self.0.charged
    }

    /// The declared filter of `name`.
    pub fn filter(self, name: &str) -> Option<&'static WireFilter> {
        self.0.filters.iter().find(|f| f.name == name)
    }

    /// The declared field that `sent` is another spelling of, if it is one.
    pub fn alias_of(self, sent: &str) -> Option<&'static str> {
        self.0.aliases.iter().find(|(alias, _)| *alias == sent).map(|(_, field)| *field)
    }

    /// The type of one field, if the endpoint documents it.
    pub fn field_type(self, field: &str) -> Option<FieldType> {
        if field == FETCHED_AT {
            return Some(FieldType::Timestamp);
        }
        self.0.fields.iter().find(|(name, _)| *name == field).map(|(_, t)| *t)
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({})", self.0.name)
    }
}

impl PartialEq for Endpoint {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Endpoint {}

impl std::hash::Hash for Endpoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state)
    }
}

impl PartialOrd for Endpoint {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Endpoint {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.name.cmp(other.0.name)
    }
}

/// The type of `field` among `fields`, at compile time: a table column declared on a field the
/// endpoint does not return fails the build, so types are written once, in the declaration.
pub const fn type_of(fields: &[(&str, FieldType)], field: &str) -> FieldType {
    let mut i = 0;
    while i < fields.len() {
        if bytes_equal(fields[i].0.as_bytes(), field.as_bytes()) {
            return fields[i].1;
        }
        i += 1;
    }
    panic!("the endpoint declares no such field")
}

const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
