-- Clay formula "Product Names":
--   {{HG Techno}}?.data?.map(x => x?.product_name)?.filter(Boolean)?.join(", ") || ""
-- The products HG sees at each account's company, among those we ask about.
SELECT a.account_id, a.website,
       coalesce(array_to_string(array_agg(DISTINCT i.product_name ORDER BY i.product_name), ', '), '') AS product_names
FROM 'queries/accounts.csv' a
LEFT JOIN hg.companies c ON c.match_domain = a.website
LEFT JOIN hg.installs i  ON i.company_id = c.company_id AND i.product_id IN (814, 1023)
GROUP BY a.account_id, a.website
ORDER BY a.account_id;
