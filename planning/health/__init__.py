"""Customer health: health scores, churn risk for the next renewal, and the churn model.

`planning.health.features` builds point-in-time renewal rows, `planning.health.model` the
churn classifier and its card, `planning.health.scoring` the 0-100 health score and the
reasons in words, `planning.health.training` training, scoring and model quality (as a job:
`planning.health.jobs`), and `planning.health.accounts` what pages and plays read (renewals at
risk, one account's health).
"""
