/**
 * The built-in plugins: one manifest per folder of plugins/. Registration follows their
 * declared dependencies (a plugin after those it depends on), otherwise this order.
 * To add a plugin: one folder under plugins/ with its manifest.ts, one line here (docs/plugins.md).
 */
import type { PluginManifest } from './plugin/manifest.js';
import metrics from '../plugins/metrics/manifest.js';
import accounts from '../plugins/accounts/manifest.js';
import terms from '../plugins/terms/manifest.js';
import keys from '../plugins/keys/manifest.js';
import memoryProvider from '../plugins/memory-provider/manifest.js';
import sql from '../plugins/sql/manifest.js';
import synapseSql from '../plugins/synapse-sql/manifest.js';
import email from '../plugins/email/manifest.js';
import sms from '../plugins/sms/manifest.js';
import validation from '../plugins/validation/manifest.js';
import invites from '../plugins/invites/manifest.js';
import binds from '../plugins/binds/manifest.js';
import ldap from '../plugins/ldap/manifest.js';
import lookup from '../plugins/lookup/manifest.js';
import unifiedView from '../plugins/unified-view/manifest.js';
import exec from '../plugins/exec/manifest.js';
import rest from '../plugins/rest/manifest.js';
import unifiedViewPush from '../plugins/unified-view-push/manifest.js';
import health from '../plugins/health/manifest.js';
import v1 from '../plugins/v1/manifest.js';
import v2 from '../plugins/v2/manifest.js';
import admin from '../plugins/admin/manifest.js';

export const BUILTIN_PLUGINS: readonly PluginManifest[] = [
  metrics,
  accounts,
  terms,
  keys,
  memoryProvider,
  sql,
  synapseSql,
  email,
  sms,
  validation,
  invites,
  binds,
  ldap,
  lookup,
  unifiedView,
  exec,
  rest,
  unifiedViewPush,
  health,
  v1,
  v2,
  admin,
];
