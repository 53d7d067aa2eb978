-- The enrichment of the HG-in-Clay guide in one pass: match every account's website to an HG
-- company, add its firmographics, and the installs of the products we sell against
-- (814 Salesforce CRM, 1023 Microsoft Dynamics 365), with the guide's three formulas as columns.
-- Accounts HG does not know are kept, with empty HG columns.
--
--   hgsql --sandbox -f queries/enrich.sql        (writes enriched.parquet)

CREATE VIEW enriched AS
SELECT a.account_id, a.account_name, a.website,
       c.company_id, c.company_name AS hg_company_name, c.domain_name AS hg_domain_name,
       f.revenue_band, f.employees_total, f.industry_name, f.country_code,
       -- "Product Names": the products detected, comma-separated
       coalesce(array_to_string(array_agg(DISTINCT i.product_name ORDER BY i.product_name), ', '), '') AS product_names,
       -- "Has Salesforce"
       coalesce(bool_or(i.product_id = 814), false) AS has_salesforce,
       -- "Salesforce Last Verified Date"
       max(i.product_last_verified_date) FILTER (WHERE i.product_id = 814) AS salesforce_last_verified_date
FROM 'queries/accounts.csv' a
LEFT JOIN hg.companies c     ON c.match_domain = a.website
LEFT JOIN hg.firmographics f ON f.company_id = c.company_id
LEFT JOIN hg.installs i      ON i.company_id = c.company_id AND i.product_id IN (814, 1023)
GROUP BY a.account_id, a.account_name, a.website, c.company_id, c.company_name, c.domain_name,
         f.revenue_band, f.employees_total, f.industry_name, f.country_code;

COPY (SELECT * FROM enriched ORDER BY account_id) TO 'enriched.parquet';
