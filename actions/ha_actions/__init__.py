"""ha-actions: Mistral actions and workflows that keep Heat-deployed applications available."""

WORKFLOW_MAJOR = "v1"
