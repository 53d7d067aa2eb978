-- Clay formula "Salesforce Last Verified Date":
--   ({{HG Techno}}?.data?.find(i => i?.product_name?.toLowerCase() === "salesforce crm")
--     ?.product_last_verified_date)?.split("T")[0] || ""
-- A real DATE column (NULL when HG has not seen Salesforce there), not a string.
SELECT a.account_id, a.website, max(i.product_last_verified_date) AS salesforce_last_verified_date
FROM 'queries/accounts.csv' a
LEFT JOIN hg.companies c ON c.match_domain = a.website
LEFT JOIN hg.installs i  ON i.company_id = c.company_id AND i.product_id = 814
GROUP BY a.account_id, a.website
ORDER BY a.account_id;
