"""kmslab: a workshop kit that teaches and proves AWS KMS end to end.

The package holds the offline parts of the kit; it never imports the AWS CDK.

* :mod:`kmslab.kms`: a local KMS with AWS's key semantics, in-process or over HTTP.
* :mod:`kmslab.envelope`: client-side envelope encryption in the AWS Encryption SDK message format.
* :mod:`kmslab.trail`: CloudTrail-format records of every call the local KMS answers.
* :mod:`kmslab.audit`: the CloudTrail table schema, the Athena queries and an offline DuckDB engine.
* :mod:`kmslab.lab`: the lab: the guide's chapters run against a local cloud with the kit deployed.
"""

__version__ = "0.1.0"
