"""OpenAI's Files and Batch APIs (`/v1/files`, `/v1/batches`): bulk work on the bulk lane. Kept apart from
the interactive routes; each resource gets its collaborators in `__init__`, as every resource does."""
