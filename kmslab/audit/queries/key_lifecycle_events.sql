-- key_lifecycle_events: Changes to KMS keys (create, enable/disable, rotation, deletion, policies, grants, key material).
SELECT
    eventtime,
    eventname AS operation,
    coalesce(r.arn, json_extract_scalar(responseelements, '$.keyMetadata.arn')) AS key_arn,
    coalesce(useridentity.arn, useridentity.invokedby) AS principal,
    errorcode,
    json_extract_scalar(requestparameters, '$.pendingWindowInDays') AS pending_window_days,
    json_extract_scalar(responseelements, '$.deletionDate') AS deletion_date
FROM {{table}}
LEFT JOIN UNNEST(resources) AS r (arn, accountid, type) ON true
WHERE "timestamp" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d')
    AND eventsource = 'kms.amazonaws.com'
    AND eventname IN (
        'CreateKey', 'ScheduleKeyDeletion', 'CancelKeyDeletion', 'DeleteKey', 'DisableKey', 'EnableKey',
        'EnableKeyRotation', 'DisableKeyRotation', 'RotateKeyOnDemand', 'PutKeyPolicy',
        'CreateGrant', 'RetireGrant', 'RevokeGrant', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial',
        'CreateAlias', 'UpdateAlias', 'DeleteAlias', 'ReplicateKey', 'UpdatePrimaryRegion', 'UpdateKeyDescription'
    )
ORDER BY eventtime DESC, operation
