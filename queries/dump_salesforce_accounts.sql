-- The largest US headquarters that use Salesforce CRM (product 814), from the sandbox's
-- Parquet dump. Run from the repository root after
--   cargo run --release -- sandbox --dump target/hg-dump
SELECT f.company_name,
       f.domain_name_normalized AS domain,
       f.revenue_band,
       f.employees_total,
       i.product_intensity,
       i.product_last_verified_date
FROM 'target/hg-dump/installs.parquet' i
JOIN 'target/hg-dump/firmographics.parquet' f ON f.company_id = i.company_id
WHERE i.product_id = 814
  AND f.country_code = 'US'
  AND f.company_level = 'GLOBAL_HQ'
ORDER BY f.revenue_total DESC NULLS LAST
LIMIT 10;
