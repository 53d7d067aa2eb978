-- HG and a second data vendor in one query: each account's HG company and firmographics, and
-- what Clay's Enterprise company enrich (POST /v1/companies/enrich) says of the same domain.
-- Each domain is asked of Clay once, answers are cached, and accounts either API does not
-- know stay in the output with empty columns (docs/http-tables.md).
--
--   hgsql --sandbox -f queries/clay_enrich.sql
--
-- On the sandbox, the connection 'sandbox' points at its REST API, which serves Clay's route.
-- For Clay itself, add to ~/.config/hgsql/config.toml
--
--   [http.clay]
--   base_url = "https://api.clay.com"
--   auth = "bearer"
--   token = "…"
--
-- and name 'clay' instead of 'sandbox' below.

CREATE EXTERNAL TABLE clay_company (domain TEXT NOT NULL, name TEXT, employees BIGINT, industry TEXT)
STORED AS HTTP
LOCATION '/v1/companies/enrich'
OPTIONS ('connection' 'sandbox', 'auth' 'bearer', 'method' 'POST', 'body' '{"domain": "{domain}"}',
         'rows_path' '/company', 'rate' '10/s');

SELECT a.account_id, a.account_name, c.company_name AS hg_name, f.employees_total AS hg_employees,
       k.employees AS clay_employees, k.industry AS clay_industry, k._status AS clay_status
FROM 'queries/accounts.csv' a
LEFT JOIN hg.companies c     ON c.match_domain = a.website
LEFT JOIN hg.firmographics f ON f.company_id = c.company_id
LEFT JOIN clay_company k     ON k.domain = f.domain_name_normalized
ORDER BY a.account_id
LIMIT 20;
