-- access_denied_calls: Every KMS call refused for lack of permission: who tried what on which key, from where.
SELECT
    eventtime,
    eventname AS operation,
    r.arn AS key_arn,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal,
    useridentity.type AS identity_type,
    sourceipaddress,
    errormessage
FROM {{table}}
LEFT JOIN UNNEST(resources) AS r (arn, accountid, type) ON true
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND errorcode IN ('AccessDenied', 'AccessDeniedException')
ORDER BY eventtime DESC, operation
