-- kms_calls_by_principal: Who called KMS (IAM users, roles, the root user, services), how often and with what outcome?
SELECT
    coalesce(useridentity.arn, useridentity.invokedby) AS principal,
    useridentity.type AS identity_type,
    count(*) AS calls,
    sum(CASE WHEN errorcode IS NULL THEN 0 ELSE 1 END) AS failed,
    count(DISTINCT eventname) AS operations,
    max(eventtime) AS last_call
FROM {{table}}
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
GROUP BY coalesce(useridentity.arn, useridentity.invokedby), useridentity.type
ORDER BY calls DESC, principal
