/**
 * The `synapseSql` section: the `sql` section's keys (ma1sd's names) with Synapse's schema as
 * defaults. The hash source default is the seed's, word for word.
 */
import { sqlSection } from '../sql/config.js';

/** Single lookup: a 3PID Synapse holds for a user who is not deactivated (ma1sd's parameters: medium, address). */
export const SYNAPSE_IDENTITY_QUERY = 'SELECT t.user_id AS uid FROM user_threepids t JOIN users u ON u.name = t.user_id WHERE u.deactivated = 0 AND t.medium = ? AND t.address = ?';

export const section = {
  ...sqlSection({
    reads: 'Synapse\'s database (PostgreSQL or SQLite)',
    identityQuery: SYNAPSE_IDENTITY_QUERY,
    lookupQuery: 'select user_id as mxid, medium, address from user_threepid_id_server',
  }),
  legacyRoomNames: { doc: 'ma1sd\'s room name setting: accepted so ma1sd configurations load, not used by unisd.', format: 'boolean', default: false },
};
