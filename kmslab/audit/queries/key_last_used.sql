-- key_last_used: When was each KMS key last used successfully for cryptography, by whom, and for what?
SELECT
    r.arn AS key_arn,
    max(eventtime) AS last_used,
    max_by(eventname, eventtime) AS last_operation,
    max_by(coalesce(useridentity.arn, useridentity.invokedby), eventtime) AS last_principal,
    count(*) AS uses
FROM {{table}}
CROSS JOIN UNNEST(resources) AS r (arn, accountid, type)
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND errorcode IS NULL
    AND eventname IN (
        'Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
        'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'Sign', 'Verify',
        'GenerateMac', 'VerifyMac', 'DeriveSharedSecret'
    )
GROUP BY r.arn
ORDER BY last_used DESC, key_arn
