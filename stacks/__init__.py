"""The kmslab CDK stacks: settings (config), stacks (keys, storage, trail, ...), the kit builder and cdk-nag."""
