"""The contract everything else builds on: strategies and their outcomes, the registry,
`@guard`, the error tree, the `Feature` a capability installs, the settings value types."""
