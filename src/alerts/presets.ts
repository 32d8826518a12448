/**
 * Ready body templates for common destinations. The Discord, Jira and Linear ones follow the
 * seed (seeds/dagster-webhook-alerts.md) with its mistakes fixed: Discord's `timestamp` gets an
 * ISO time. No value needs a `| truncate:N`: a policy's destination kind (each preset's id) fits
 * every body to the destination's limits when it is rendered (destinations.ts).
 */
export type Preset = {
  id: string;
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  notes: string;
};

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** A Jira Cloud issue (the seed's fields); v2 takes a text description, v3 an ADF document. */
function jira(version: 2 | 3, name: string, notes: string, description: unknown): Preset {
  return {
    id: `jira-v${version}`,
    name,
    url: `https://<your-domain>.atlassian.net/rest/api/${version}/issue`,
    headers: { Authorization: "Basic <base64 of email:api_token>" },
    notes,
    body: json({
      fields: {
        project: { key: "ENG" },
        issuetype: { name: "Bug" },
        priority: { name: "High" },
        summary: "dagflare: {{alert_summary}}",
        description,
      },
    }),
  };
}

export const PRESETS: readonly Preset[] = [
  {
    id: "discord",
    name: "Discord (embed)",
    url: "https://discord.com/api/webhooks/<id>/<token>",
    headers: {},
    notes:
      "Content ≤ 2000, embed description ≤ 4096, title ≤ 256 characters. Write <@&ROLE_ID> in `content` to ping a role; mentions inside values never ping.",
    body: json({
      username: "dagflare",
      content: "**Alert Triggered**: {{alert_summary}}",
      embeds: [
        {
          title: "{{alert_summary}}",
          url: "{{run_link}}",
          description: "```\n{{alert_content}}\n```",
          color: 15158332,
          fields: [
            { name: "Deployment", value: "{{deployment_name}}", inline: true },
            { name: "Policy", value: "{{alert_policy_name}}", inline: true },
          ],
          footer: { text: "dagflare • {{deployment_url}}" },
          timestamp: "{{start_time}}",
        },
      ],
    }),
  },
  {
    id: "slack",
    name: "Slack (incoming webhook, blocks)",
    url: "https://hooks.slack.com/services/<T>/<B>/<X>",
    headers: {},
    notes: "Section text ≤ 3000 characters; `text` is the notification fallback.",
    body: json({
      text: "{{alert_summary}}",
      blocks: [
        { type: "header", text: { type: "plain_text", text: "{{alert_summary}}" } },
        { type: "section", text: { type: "mrkdwn", text: "```{{alert_content}}```" } },
        {
          type: "context",
          elements: [
            {
              type: "mrkdwn",
              text: "{{deployment_name}} • policy {{alert_policy_name}} • <{{run_link}}|open the run>",
            },
          ],
        },
      ],
    }),
  },
  jira(
    2,
    "Jira Cloud, API v2 (plain text)",
    "Summary: one line, ≤ 255 characters.",
    "Error Details:\n{{alert_content}}\n\nLink: {{run_link}}",
  ),
  jira(3, "Jira Cloud, API v3 (ADF)", "Atlassian Document Format description; summary ≤ 255 characters.", {
    type: "doc",
    version: 1,
    content: [
      {
        type: "paragraph",
        content: [
          { type: "text", text: "Details:\n", marks: [{ type: "strong" }] },
          { type: "text", text: "{{alert_content}}", marks: [{ type: "code" }] },
        ],
      },
      {
        type: "paragraph",
        content: [
          { type: "text", text: "View in dagflare", marks: [{ type: "link", attrs: { href: "{{deployment_url}}" } }] },
        ],
      },
    ],
  }),
  {
    id: "linear",
    name: "Linear (GraphQL issueCreate)",
    url: "https://api.linear.app/graphql",
    headers: { Authorization: "<YOUR_API_KEY>" },
    notes: "Use the team's UUID, not its key.",
    body: json({
      query:
        "mutation CreateAlert($title: String!, $desc: String!, $team: String!) { issueCreate(input: { title: $title, description: $desc, teamId: $team, priority: 1 }) { success issue { url } } }",
      variables: {
        team: "YOUR_TEAM_UUID_HERE",
        title: "{{alert_summary}}",
        // The details as a code block: a step's output reads as it was printed, not as markdown.
        desc: "```\n{{alert_content}}\n```\n\n---\n**Source**: {{deployment_name}}\n**Policy**: {{alert_policy_name}}\n[Open the run]({{run_link}})",
      },
    }),
  },
  {
    id: "pagerduty",
    name: "PagerDuty Events API v2",
    url: "https://events.pagerduty.com/v2/enqueue",
    headers: {},
    notes:
      "Choose JOB_FAILURE and JOB_SUCCESS: a failure opens (or adds to) one incident per DAG — dedup_key names the deployment, the kind of event and the DAG — and the DAG's next success resolves it. Severity follows the event. Summary ≤ 1024 characters.",
    body: json({
      routing_key: "<YOUR_INTEGRATION_KEY>",
      event_action: "{{event_action}}",
      dedup_key: "dagflare/{{deployment_name}}/{{notification_type}}/{{dag_name}}",
      payload: {
        summary: "{{alert_summary}}",
        source: "{{deployment_name}}",
        severity: "{{severity}}",
        timestamp: "{{event_time}}",
        custom_details: { details: "{{alert_content}}", policy: "{{alert_policy_name}}", run_link: "{{run_link}}" },
      },
      links: [{ href: "{{run_link}}", text: "Open the run" }],
    }),
  },
  {
    id: "teams",
    name: "Microsoft Teams (Workflows, Adaptive Card)",
    url: "https://<tenant>.webhook.office.com/…",
    headers: {},
    notes: "An Adaptive Card message for a Teams workflow webhook.",
    body: json({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.4",
            body: [
              { type: "TextBlock", size: "Medium", weight: "Bolder", text: "{{alert_summary}}", wrap: true },
              { type: "TextBlock", text: "{{alert_content}}", wrap: true, fontType: "Monospace" },
              {
                type: "FactSet",
                facts: [
                  { title: "Deployment", value: "{{deployment_name}}" },
                  { title: "Policy", value: "{{alert_policy_name}}" },
                ],
              },
            ],
            actions: [{ type: "Action.OpenUrl", title: "Open the run", url: "{{run_link}}" }],
          },
        },
      ],
    }),
  },
  {
    id: "generic",
    name: "Generic JSON",
    url: "https://example.com/hooks/dagflare",
    headers: {},
    notes: "Every job token as a flat object.",
    body: json({
      summary: "{{alert_summary}}",
      content: "{{alert_content}}",
      type: "{{notification_type}}",
      dag: "{{job_name}}",
      run_id: "{{run_id}}",
      status: "{{run_status}}",
      started: "{{start_time}}",
      ended: "{{end_time}}",
      link: "{{run_link}}",
      sample: "{{is_sample}}",
    }),
  },
];
