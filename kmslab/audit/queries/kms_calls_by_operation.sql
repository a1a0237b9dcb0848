-- kms_calls_by_operation: How many KMS calls were made per operation in the window, and how many failed?
SELECT
    eventname AS operation,
    count(*) AS calls,
    sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) AS failed,
    count(DISTINCT coalesce(useridentity.arn, useridentity.invokedby)) AS principals
FROM {{table}}
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
GROUP BY eventname
ORDER BY calls DESC, operation
