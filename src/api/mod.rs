//! The HG client: authentication, rate limit, retries, paging, batching, cache, credits and
//! metrics. Knows nothing of DataFusion. Filled in by the client issue.
