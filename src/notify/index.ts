/** What other folders may use from the notifier (STYLE.md 15); receivers import the verify function. */
export { WebhookNotifier, toSlackMessage, WEBHOOK_METRIC, WEBHOOK_STAGE, type WebhookNotifierOptions } from './webhook-notifier.ts';
export { signWebhook, verifyWebhookSignature, WEBHOOK_HEADER, DEFAULT_TOLERANCE_S, type VerifyOptions, type VerifyResult, type VerifyFailure } from './webhook-signature.ts';
export { webhookSettings, WEBHOOK_SECRET_ENV, MIN_WEBHOOK_SECRET_LENGTH, type WebhookSettings } from './webhook-config.ts';
export { decodeAlertRecord, AlertRecordSchema, type AlertRecord } from './alert-record.ts';
export { DeliveredLog } from './delivered-log.ts';
