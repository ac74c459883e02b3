/** The SMS plugin: the connector of sms.connector behind the SMS rate limits (app.sms). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';
import { addFormat, commaList } from '../../core/config/formats.js';
import {
  SMS_CONNECTORS, checkBodyTemplate, checkOriginators, checkStringMap, BODY_TEMPLATE_EXPECTED, ORIGINATORS_EXPECTED, STRING_MAP_EXPECTED,
} from './config.js';
import { isDestination } from './country.js';

addFormat('sms-destinations', 'a list of countries: ISO 3166 codes such as "GB", or calling codes such as "44" (in an environment variable: comma-separated)',
  (v) => Array.isArray(v) && v.every(isDestination), commaList);

const config = {
  sms: {
    connector: { doc: 'SMS connector: none, twilio, openmarket, infobip, sns (Amazon SNS) or http (any gateway, from sms.http).', format: ['none', ...SMS_CONNECTORS], default: 'none' },
    template: { doc: 'SMS text; {token} is replaced by the code.', format: String, default: 'Your validation code is {token}' },
    countries: {
      allow: { doc: 'Countries SMS may be sent to, by ISO code ("GB") or calling code ("44"); empty: all but sms.countries.reject. Allowing only where your users are is the surest stop to toll fraud.', format: 'sms-destinations', default: [] as string[] },
      reject: { doc: 'Countries SMS are never sent to (requestToken answers 400 M_DESTINATION_REJECTED), by ISO code or calling code (sydent\'s smsrule.<code> = reject).', format: 'sms-destinations', default: [] as string[] },
    },
    rateLimit: {
      perNumber: { doc: 'SMS sent to one phone number per window, whatever the connector (0: unlimited).', format: 'nat', default: 5 },
      perCountry: { doc: 'SMS sent to one country (libphonenumber-js\'s region; its calling code when the number belongs to none) per window: bounds toll fraud through premium ranges (0: unlimited).', format: 'nat', default: 60 },
      window: { doc: 'Window of the SMS rate limits.', format: 'duration', default: ms('1h') },
    },
    twilio: {
      accountSid: { doc: 'Twilio account SID.', format: String, default: '' },
      authToken: { doc: 'Twilio auth token.', format: String, default: '', sensitive: true },
      from: { doc: 'Sender number (E.164, with +).', format: String, default: '' },
      baseUrl: { doc: 'Twilio REST API base URL.', format: 'http-url', default: 'https://api.twilio.com' },
    },
    openmarket: {
      username: { doc: 'OpenMarket account ID (sydent: [sms] username).', format: String, default: '' },
      password: { doc: 'OpenMarket account password (sydent: [sms] password).', format: String, default: '', sensitive: true },
      url: { doc: 'OpenMarket Global SMS API (v4) send endpoint; http://smsc-cie.openmarket.com/sms/v4/mt is the test environment that sends nothing.', format: 'http-url', default: 'https://smsc.openmarket.com/sms/v4/mt' },
      originators: {
        doc: 'Senders by destination calling code, as sydent\'s originators.<code> lines: {"44": "long:447700900000, alpha:Example", default: "alpha:Matrix"}. Several senders: one is picked per number, always the same. No match: OpenMarket\'s account default.',
        format: Object, check: checkOriginators, expected: ORIGINATORS_EXPECTED, default: {} as Record<string, string>,
      },
    },
    infobip: {
      apiKey: { doc: 'Infobip API key (sent as "Authorization: App <key>").', format: String, default: '', sensitive: true },
      baseUrl: { doc: 'Your Infobip base URL (https://<id>.api.infobip.com, shown in the Infobip portal).', format: 'http-url', default: 'https://api.infobip.com' },
      from: { doc: 'Sender (number or alphanumeric); empty for the account\'s default.', format: String, default: '' },
    },
    sns: {
      region: { doc: 'AWS region of Amazon SNS.', format: String, default: 'us-east-1' },
      endpoint: { doc: 'SNS endpoint URL; empty for the region\'s (https://sns.<region>.amazonaws.com).', format: String, default: '' },
      accessKeyId: { doc: 'AWS access key ID; empty to use the AWS SDK\'s default chain (AWS_* environment variables, shared files, instance or task role).', format: String, default: '' },
      secretAccessKey: { doc: 'AWS secret access key (with sms.sns.accessKeyId).', format: String, default: '', sensitive: true },
      senderId: { doc: 'Sender ID (AWS.SNS.SMS.SenderID) where the destination country supports one; empty for none.', format: String, default: '' },
      smsType: { doc: 'AWS.SNS.SMS.SMSType: Transactional (codes; delivered first) or Promotional.', format: ['Transactional', 'Promotional'], default: 'Transactional' },
    },
    http: {
      method: { doc: 'HTTP method of the generic connector.', format: ['POST', 'PUT', 'GET'], default: 'POST' },
      url: { doc: 'URL the generic connector calls; {to} (E.164 with +), {msisdn} (digits), {text} and {secret} are replaced, URL-encoded.', format: String, default: '' },
      secret: { doc: 'The gateway\'s API key or password, put where the URL, headers or body say {secret} (kept out of them so that it can come from UNISD_SMS_HTTP_SECRET).', format: String, default: '', sensitive: true },
      headers: { doc: 'Request headers (name → value), e.g. {Authorization: "Bearer {secret}"}; {secret} is replaced.', format: Object, check: checkStringMap, expected: STRING_MAP_EXPECTED, default: {} as Record<string, string> },
      bodyFormat: { doc: 'Body encoding: json, form (application/x-www-form-urlencoded) or none.', format: ['json', 'form', 'none'], default: 'json' },
      body: { doc: 'Body template: a map whose text values may hold {to}, {msisdn}, {text} and {secret} (form: one level of values).', format: Object, check: checkBodyTemplate, expected: BODY_TEMPLATE_EXPECTED, default: {} as Record<string, unknown> },
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'sms',
  description: 'SMS connectors for msisdn validation (app.sms): Twilio, OpenMarket, Infobip, Amazon SNS, generic HTTP',
  config,
  example: `
sms:
  # none, twilio, openmarket, infobip, sns or http. Only the chosen connector's section is read.
  connector: twilio
  template: Your example.org validation code is {token}
  # Where texts may go, by ISO code ("GB") or calling code ("44"). allow empty: everywhere but
  # reject. Allowing only the countries your users are in is the surest stop to toll fraud.
  countries:
    allow: []
    # e.g. international networks, often abused: ["881", "882", "883"]
    reject: []
  # Toll fraud (texts to premium numbers the fraudster is paid for) is the main abuse of SMS
  # validation: limit texts per number and per destination country, whatever the connector. 0: unlimited.
  rateLimit:
    perNumber: 5
    perCountry: 60
    window: 1h
  twilio:
    accountSid: AC00000000000000000000000000000000
    # Secret: prefer UNISD_SMS_TWILIO_AUTH_TOKEN.
    authToken: change-me
    from: "+15550000000"
    baseUrl: https://api.twilio.com
  # OpenMarket, as sydent sends: its [sms] username, password and originators.<code> lines.
  openmarket:
    username: example-account
    # Secret: prefer UNISD_SMS_OPENMARKET_PASSWORD.
    password: change-me
    url: https://smsc.openmarket.com/sms/v4/mt
    originators:
      "44": long:447700900000, alpha:Example
      default: alpha:Matrix
  infobip:
    # Secret: prefer UNISD_SMS_INFOBIP_API_KEY.
    apiKey: change-me
    baseUrl: https://xxxxx.api.infobip.com
    from: Example
  sns:
    region: eu-west-1
    # Empty: the region's endpoint.
    endpoint: ""
    # Empty keys: the AWS SDK's default chain (environment, shared files, instance or task role).
    accessKeyId: AKIA00000000EXAMPLE
    # Secret: prefer UNISD_SMS_SNS_SECRET_ACCESS_KEY.
    secretAccessKey: change-me
    senderId: Example
    smsType: Transactional
  # Any other gateway: {to} (+E.164), {msisdn} (digits), {text} and {secret} are replaced in the
  # URL and the body's text values; {secret} in header values too.
  http:
    method: POST
    url: https://sms.example.org/api/send
    # Secret: prefer UNISD_SMS_HTTP_SECRET.
    secret: change-me
    headers:
      Authorization: Bearer {secret}
    # json, form or none.
    bodyFormat: json
    body:
      to: "{to}"
      text: "{text}"
`,
  enabled: () => true,
  plugin: () => import('./index.js'),
});
