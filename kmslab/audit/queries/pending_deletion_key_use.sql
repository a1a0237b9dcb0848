-- pending_deletion_key_use: Every call refused because its KMS key is pending deletion: who still needs that key?
-- Matched on the message, as AWS's own metric filter does: the error code alone does not say why the key was unusable.
SELECT
    eventtime,
    r.arn AS key_arn,
    eventname AS operation,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal,
    sourceipaddress,
    useragent,
    errormessage
FROM {{table}}
CROSS JOIN UNNEST(resources) AS r (arn, accountid, type)
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND errormessage LIKE '%is pending deletion%'
ORDER BY eventtime DESC, key_arn
