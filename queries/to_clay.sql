-- The enriched accounts into a Clay table through its webhook, and what the ledger says after.
-- `webhook://sandbox` is the built-in sandbox's Clay-like receiver (10 rows a second, as Clay);
-- with a real Clay table, name it in the config file instead:
--
--   [webhooks.clay_leads]
--   url = "https://api.clay.com/v3/sources/webhook/pull-in-data-from-a-webhook-…"
--   token = "…"
--
--   hgsql --sandbox -f queries/to_clay.sql        (about 20 s: Clay's rate, not HG's)
--
-- Run the INSERT again in the same session and nothing goes: every domain is sent already.

CREATE EXTERNAL TABLE clay_leads (
  domain TEXT NOT NULL, company_name TEXT, revenue_band TEXT, employees_total BIGINT,
  has_salesforce BOOLEAN, salesforce_last_verified_date DATE)
STORED AS WEBHOOK LOCATION 'webhook://sandbox'
OPTIONS ('key' 'domain', 'resend' 'changed');

INSERT INTO clay_leads
SELECT c.domain_name, c.company_name, f.revenue_band, f.employees_total,
       coalesce(bool_or(i.product_id = 814), false),
       max(i.product_last_verified_date) FILTER (WHERE i.product_id = 814)
FROM 'queries/accounts.csv' a
JOIN hg.companies c          ON c.match_domain = a.website
JOIN hg.firmographics f      ON f.company_id = c.company_id
LEFT JOIN hg.installs i      ON i.company_id = c.company_id AND i.product_id = 814
GROUP BY c.domain_name, c.company_name, f.revenue_band, f.employees_total;

SELECT _status, count(*) AS rows FROM clay_leads GROUP BY _status;
