/**
 * The Amazon SNS connector: SNS Publish to a phone number through @aws-sdk/client-sns (the AWS
 * Query protocol: a form POST with `Action=Publish&PhoneNumber=+…&Message=…`, signed with
 * SigV4), with the sender ID and SMS type as message attributes. `sms.sns.endpoint` points it
 * elsewhere (a VPC endpoint, a local stand-in).
 */
import type { FastifyBaseLogger } from 'fastify';
import { PublishCommand, SNSClient, SNSServiceException, type MessageAttributeValue } from '@aws-sdk/client-sns';
import type { Config } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/load.js';
import { GATEWAY_TIMEOUT_MS, sendError } from './gateway.js';
import type { SmsSender } from './types.js';

export type SnsConfig = Config['sms']['sns'];

export class SnsSender implements SmsSender {
  private readonly client: SNSClient;
  private readonly attributes: Record<string, MessageAttributeValue>;

  constructor(config: SnsConfig, private readonly log: FastifyBaseLogger) {
    if (!config.region) throw new ConfigError('sms.sns.region: required when sms.connector is sns');
    if (Boolean(config.accessKeyId) !== Boolean(config.secretAccessKey)) {
      throw new ConfigError(`sms.sns.${config.accessKeyId ? 'secretAccessKey' : 'accessKeyId'}: required with sms.sns.${config.accessKeyId ? 'accessKeyId' : 'secretAccessKey'}`);
    }
    if (config.endpoint && !/^https?:\/\/[^/\s?#]+(\/\S*)?$/.test(config.endpoint)) {
      throw new ConfigError('sms.sns.endpoint: expected an http(s) URL such as "https://sns.eu-west-1.amazonaws.com", or empty');
    }
    this.client = new SNSClient({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.accessKeyId ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } } : {}),
      // One attempt: the client waits for this answer, and a retried Publish may text twice.
      maxAttempts: 1,
    });
    this.attributes = {
      'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: config.smsType },
      ...(config.senderId ? { 'AWS.SNS.SMS.SenderID': { DataType: 'String', StringValue: config.senderId } } : {}),
    };
  }

  async send(msisdn: string, text: string): Promise<void> {
    try {
      await this.client.send(
        new PublishCommand({ PhoneNumber: `+${msisdn}`, Message: text, MessageAttributes: this.attributes }),
        { abortSignal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS) },
      );
    } catch (err) {
      const code = err instanceof SNSServiceException ? err.name : null;
      if (code === null) this.log.error({ error: (err as Error).name }, 'the SMS gateway could not be reached');
      else this.log.error({ status: (err as SNSServiceException).$metadata?.httpStatusCode ?? null, code }, 'the SMS gateway refused the message');
      throw sendError();
    }
  }

  close(): void {
    this.client.destroy();
  }
}
