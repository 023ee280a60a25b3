/**
 * Every environment variable the monitor reads, named once (STYLE.md 10). `scripts/services.sh env`
 * prints the CCM_KAFKA_* and CCM_INFLUX_* ones; docker-compose.yml passes them to the monitor.
 * Each maps to a config key (the override wins over the files).
 */
export const ENV_VARS = {
  CCM_KAFKA_BROKERS: 'kafka.brokers (comma-separated host:port; setting it turns Kafka on)',
  CCM_TOPIC_PREFIX: 'kafka.topicPrefix',
  CCM_KAFKA_SSL: 'kafka.ssl (true/false)',
  CCM_KAFKA_SASL_MECHANISM: 'kafka.sasl.mechanism (plain, scram-sha-256, scram-sha-512)',
  CCM_KAFKA_SASL_USERNAME: 'kafka.sasl.username',
  CCM_KAFKA_SASL_PASSWORD: 'kafka.sasl.password',
  CCM_INFLUX_URL: 'influx.url (http:// or https://; setting it turns InfluxDB on)',
  CCM_INFLUX_USER: 'influx.user',
  CCM_INFLUX_PASSWORD: 'influx.password',
  CCM_INFLUX_DB: 'influx.database',
  CCM_MODE: 'mode (auto, live, demo)',
  CCM_LOG_LEVEL: 'log level (trace, debug, info, warn, error)',
  CCM_LOG_FILE: 'where ccm run and ccm replay log on a terminal (default <tmpdir>/ccm/<command>.log)',
  CCM_SERVICES_PORT_SHIFT: 'ports of scripts/services.sh moved by N; config/local.yaml follows it',
  CCM_HTTP_ADDRESS: 'http.address (host:port of /healthz and /metrics)',
  CCM_WEBHOOK_URL: 'webhook.url (signed alert webhooks; empty = off)',
  CCM_WEBHOOK_SECRET: 'webhook secret for the HMAC-SHA256 signature (never in a file)',
  CCM_INSTANCE_ID: 'processor.instanceId (stable per processor instance)',
  LAMBDA_API_KEY: 'Lambda Cloud API key (ingest)',
  VAST_API_KEY: 'vast.ai API key (optional, ingest)',
  RUNPOD_API_KEY: 'RunPod API key (optional, ingest)',
  EBAY_OAUTH_TOKEN: 'eBay Browse API OAuth application token (ingest)',
} as const;
export type EnvVar = keyof typeof ENV_VARS;
