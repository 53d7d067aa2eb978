-- Clay formula "Has Salesforce":
--   ({{Product Names}}?.toLowerCase()?.includes("salesforce crm")) || false
-- Asked of HG as a product filter, so only Salesforce installs travel.
SELECT a.account_id, a.website, coalesce(bool_or(i.product_id IS NOT NULL), false) AS has_salesforce
FROM 'queries/accounts.csv' a
LEFT JOIN hg.companies c ON c.match_domain = a.website
LEFT JOIN hg.installs i  ON i.company_id = c.company_id AND i.product_id = 814
GROUP BY a.account_id, a.website
ORDER BY a.account_id;
