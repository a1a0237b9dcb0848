-- kms_failed_calls: Every KMS call that failed: when, what, on which key, by whom, from where, and why.
SELECT
    eventtime,
    eventname AS operation,
    errorcode,
    errormessage,
    r.arn AS key_arn,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal,
    sourceipaddress,
    requestid
FROM {{table}}
LEFT JOIN UNNEST(resources) AS r (arn, accountid, type) ON true
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND errorcode IS NOT NULL
ORDER BY eventtime DESC, requestid
