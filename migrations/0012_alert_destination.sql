-- The kind of destination a policy sends to (discord, slack, jira-v2, jira-v3, linear, pagerduty,
-- teams, generic), which decides how its body is escaped and fitted to the destination's limits;
-- 'auto' goes by the URL's host. Policies saved before this keep 'auto': what they had.
ALTER TABLE alert_policies ADD COLUMN destination TEXT NOT NULL DEFAULT 'auto';
