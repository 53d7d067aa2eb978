-- The enrichment of the HG-in-Clay guide in one pass: match every account's website to an HG
-- company, add its firmographics, and the installs of the products we sell against
-- (814 Salesforce CRM, 1023 Microsoft Dynamics 365), with the guide's three formulas as columns.
-- Accounts HG does not know are kept, with empty HG columns.
--
--   hgsql --sandbox -f queries/enrich.sql        (writes enriched.parquet)
--
-- The installs are summed up per company before they meet the accounts: the GROUP BY holds one
-- group per company with installs, not one per account, which keeps a run over a million
-- accounts under a gigabyte (docs/architecture.md, "What grows with the number of keys").

CREATE VIEW enriched AS
SELECT a.account_id, a.account_name, a.website,
       c.company_id, c.company_name AS hg_company_name, c.domain_name AS hg_domain_name,
       f.revenue_band, f.employees_total, f.industry_name, f.country_code,
       coalesce(p.product_names, '') AS product_names,
       coalesce(p.has_salesforce, false) AS has_salesforce,
       p.salesforce_last_verified_date
FROM 'queries/accounts.csv' a
LEFT JOIN hg.companies c     ON c.match_domain = a.website
LEFT JOIN hg.firmographics f ON f.company_id = c.company_id
LEFT JOIN (
    SELECT company_id,
           -- "Product Names": the products detected, comma-separated in name order
           concat_ws(', ', max(product_name) FILTER (WHERE product_id = 1023),
                           max(product_name) FILTER (WHERE product_id = 814)) AS product_names,
           -- "Has Salesforce"
           bool_or(product_id = 814) AS has_salesforce,
           -- "Salesforce Last Verified Date"
           max(product_last_verified_date) FILTER (WHERE product_id = 814) AS salesforce_last_verified_date
    FROM hg.installs
    WHERE product_id IN (814, 1023)
    GROUP BY company_id
) p ON p.company_id = c.company_id;

COPY (SELECT * FROM enriched ORDER BY account_id) TO 'enriched.parquet';
