-- kms_calls_by_key: Which KMS keys were used, how often, by how many principals, and when first and last?
SELECT
    r.arn AS key_arn,
    count(*) AS calls,
    sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) AS failed,
    count(DISTINCT eventname) AS operations,
    count(DISTINCT coalesce(useridentity.arn, useridentity.invokedby)) AS principals,
    min(eventtime) AS first_call,
    max(eventtime) AS last_call
FROM {{table}}
CROSS JOIN UNNEST(resources) AS r (arn, accountid, type)
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND r.type = 'AWS::KMS::Key'
GROUP BY r.arn
ORDER BY calls DESC, key_arn
