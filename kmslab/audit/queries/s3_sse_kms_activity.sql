-- s3_sse_kms_activity: KMS calls S3 made on a caller's behalf (SSE-KMS): which object, which key, for whom.
SELECT
    eventtime,
    eventname AS operation,
    json_extract_scalar(requestparameters, '$.encryptionContext["aws:s3:arn"]') AS s3_object,
    r.arn AS key_arn,
    useridentity.arn AS principal,
    errorcode
FROM {{table}}
LEFT JOIN UNNEST(resources) AS r (arn, accountid, type) ON true
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND (useridentity.invokedby = 's3.amazonaws.com' OR sourceipaddress = 's3.amazonaws.com')
ORDER BY eventtime DESC, s3_object
